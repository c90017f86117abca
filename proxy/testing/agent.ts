import type { ChildProcess } from "node:child_process";
import * as readline from "node:readline";

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

/** The test's end of fixtures/client-agent.ts: one request per scenario, each with a deadline. */
export class Agent {
  private next = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly child: ChildProcess) {
    readline.createInterface({ input: child.stdout! }).on("line", (line) => this.onLine(line));
    child.once("exit", (code) => this.failAll(new Error(`client agent exited (${code})`)));
  }

  run<T = Record<string, unknown>>(
    name: string,
    args: Record<string, unknown> = {},
    timeoutMs = 10_000,
  ): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`scenario ${name} gave no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.stdin!.write(JSON.stringify({ id, name, args }) + "\n");
    });
  }

  private onLine(line: string): void {
    if (!line.startsWith("{")) return;
    const msg = JSON.parse(line) as { id: number; ok: boolean; result?: unknown; error?: string };
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new Error(msg.error));
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }
}
