import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import { pinned } from "./pin";

/** The CPUs the peers under test run on (see pin.ts); undefined: anywhere. */
let peerCpus: string | undefined;
export function pinPeers(cpus: string | undefined): void {
  peerCpus = cpus;
}

export interface Proc {
  name: string;
  child: ChildProcess;
  stderr: () => string;
}

const running = new Set<ChildProcess>();
// Whatever ends the benchmark (a crash included), the peers it started do not outlive it.
process.on("exit", () => running.forEach((c) => c.kill("SIGKILL")));

export function start(
  name: string,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Proc {
  // taskset execs the command, so the child's pid is the peer's own (for its CPU and memory).
  const [bin, argv] = pinned(peerCpus, cmd, args);
  const child = spawn(bin, argv, { env, stdio: ["ignore", "ignore", "pipe"] });
  running.add(child);
  child.once("exit", () => running.delete(child));
  let err = "";
  child.stderr?.on("data", (d) => (err = (err + d).slice(-4000)));
  return { name, child, stderr: () => err };
}

export async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise((r) => p.child.once("exit", r));
  p.child.kill("SIGTERM");
  const t = setTimeout(() => p.child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(t);
}

/** Waits until something accepts on 127.0.0.1:port, at most `ms`. */
export async function waitPort(port: number, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
}

export async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

const TICK_US = 1e6 / 100; // CLK_TCK is 100 on Linux x86-64

/** utime + stime of a process, in microseconds. */
export function cpuUs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

export interface Mem {
  rssKb: number;
  anonKb: number;
}

export function mem(pid: number): Mem {
  const s = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const f = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(s)?.[1] ?? 0);
  return { rssKb: f("VmRSS"), anonKb: f("RssAnon") };
}

/** Samples memory of `pids` every 200 ms until stopped; keeps the per-process maximum. */
export function sampleMem(pids: number[]): () => Mem {
  const max: Mem = { rssKb: 0, anonKb: 0 };
  const tick = (): void => {
    for (const pid of pids) {
      const m = mem(pid);
      max.rssKb = Math.max(max.rssKb, m.rssKb);
      max.anonKb = Math.max(max.anonKb, m.anonKb);
    }
  };
  const timer = setInterval(tick, 200);
  return () => {
    clearInterval(timer);
    tick();
    return max;
  };
}
