import {
  execFile,
  execFileSync,
  spawn,
  type ChildProcess,
  type SpawnOptions,
} from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Network namespaces for integration tests. Every namespace is named `weft-test-<pid>-<n>-<role>`,
 * every process started in one is tracked by PID, and cleanup kills those PIDs and deletes the
 * namespaces. Pods talk over one veth pair in a private /30 (and /126): no routes, no NAT, nothing
 * leaves the namespaces.
 */
export const NETNS_PREFIX = "weft-test-";

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface PodLink {
  /** Addresses of the two ends, `a` in the first namespace, `b` in the second. */
  a: string;
  b: string;
  a6: string;
  b6: string;
}

export class NetnsError extends Error {
  readonly code = "WEFT_ERR_NETNS";
}

/** Absolute path of a tool, so processes started with a bare environment (no PATH) still start. */
export function tool(name: string): string {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/sbin", "/usr/bin", "/bin"];
  const found = dirs.find((d) => d !== "" && fs.existsSync(path.join(d, name)));
  return found ? path.join(found, name) : name;
}

function run(cmd: string, args: string[], timeoutMs = 15_000): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string }) | null;
      const code = e ? (typeof e.code === "number" ? e.code : 127) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || (e?.message ?? "") });
    });
  });
}

async function must(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new NetnsError(`${cmd} ${args.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout;
}

export interface SpawnInOptions extends SpawnOptions {
  /** Run as this uid (and gid) through setpriv, as the proxy runs as 2102. */
  uid?: number;
}

export class Netns {
  constructor(
    readonly name: string,
    private readonly track: (child: ChildProcess) => void,
  ) {}

  /** Runs a command to completion inside the namespace. */
  exec(cmd: string, args: string[], timeoutMs?: number): Promise<ExecResult> {
    return run("ip", ["netns", "exec", this.name, cmd, ...args], timeoutMs);
  }

  async mustExec(cmd: string, args: string[]): Promise<string> {
    return must("ip", ["netns", "exec", this.name, cmd, ...args]);
  }

  /** Starts a long-running process inside; `ip netns exec` and setpriv exec, so the PID is the process's. */
  spawn(cmd: string, args: string[], opts: SpawnInOptions = {}): ChildProcess {
    const { uid, ...rest } = opts;
    const asUser =
      uid === undefined
        ? []
        : [tool("setpriv"), `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "--"];
    const child = spawn(tool("ip"), ["netns", "exec", this.name, ...asUser, cmd, ...args], rest);
    this.track(child);
    return child;
  }
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function namesFromList(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim().split(" ")[0])
    .filter((n) => n.startsWith(NETNS_PREFIX));
}

/** Owns a set of namespaces and processes; `cleanup()` is safe to call more than once. */
export class NetnsLab {
  private static counter = 0;
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private readonly exitHook = (): void => this.cleanupSync();

  constructor() {
    process.once("exit", this.exitHook);
  }

  async create(role: string): Promise<Netns> {
    const name = `${NETNS_PREFIX}${process.pid}-${NetnsLab.counter++}-${role}`.slice(0, 60);
    await must("ip", ["netns", "add", name]);
    this.namespaces.push(name);
    await must("ip", ["-n", name, "link", "set", "lo", "up"]);
    return new Netns(name, (c) => this.children.add(c));
  }

  /** One veth pair, `eth0` on both sides, addressed in a /30 and a /126 private to the pair. */
  async link(a: Netns, b: Netns): Promise<PodLink> {
    const k = NetnsLab.counter++ % 60;
    const l: PodLink = {
      a: `10.254.${k}.1`,
      b: `10.254.${k}.2`,
      a6: `fd00:77:65:${k}::1`,
      b6: `fd00:77:65:${k}::2`,
    };
    await must("ip", [
      "-n",
      a.name,
      "link",
      "add",
      "eth0",
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      b.name,
    ]);
    for (const [ns, v4, v6] of [
      [a, l.a, l.a6],
      [b, l.b, l.b6],
    ] as const) {
      await must("ip", ["-n", ns.name, "addr", "add", `${v4}/30`, "dev", "eth0"]);
      await must("ip", ["-n", ns.name, "-6", "addr", "add", `${v6}/126`, "dev", "eth0", "nodad"]);
      await must("ip", ["-n", ns.name, "link", "set", "eth0", "up"]);
    }
    return l;
  }

  /** Processes started inside: SIGTERM, a short wait, then SIGKILL; then namespaces go. */
  async cleanup(): Promise<void> {
    const pids = await this.allPids();
    pids.forEach((p) => kill(p, "SIGTERM"));
    const deadline = Date.now() + 2000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    pids.filter(alive).forEach((p) => kill(p, "SIGKILL"));
    for (const name of this.namespaces.splice(0)) await run("ip", ["netns", "del", name]);
    this.children.clear();
    process.removeListener("exit", this.exitHook);
  }

  /** Our children plus anything else still running in our namespaces (started by them). */
  private async allPids(): Promise<number[]> {
    const pids = new Set<number>();
    for (const c of this.children) if (c.pid && c.exitCode === null) pids.add(c.pid);
    for (const name of this.namespaces) {
      const r = await run("ip", ["netns", "pids", name]);
      r.stdout
        .split(/\s+/)
        .filter(Boolean)
        .map(Number)
        .forEach((p) => pids.add(p));
    }
    return [...pids];
  }

  private cleanupSync(): void {
    for (const c of this.children) if (c.pid && c.exitCode === null) kill(c.pid, "SIGKILL");
    for (const name of this.namespaces.splice(0)) {
      try {
        execFileSync("ip", ["netns", "del", name], { stdio: "ignore" });
      } catch {
        // best effort at exit
      }
    }
  }
}

/** Removes namespaces left by earlier test runs whose process is gone (never another live run's). */
export async function removeStaleNamespaces(): Promise<string[]> {
  const list = await run("ip", ["netns", "list"]);
  const stale = namesFromList(list.stdout).filter((n) => {
    const pid = Number(n.slice(NETNS_PREFIX.length).split("-")[0]);
    return Number.isInteger(pid) && pid !== process.pid && !alive(pid);
  });
  for (const name of stale) {
    const pids = await run("ip", ["netns", "pids", name]);
    pids.stdout
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
      .forEach((p) => kill(p, "SIGKILL"));
    await run("ip", ["netns", "del", name]);
  }
  return stale;
}

export type Support = { ok: true } | { ok: false; reason: string; kernel: boolean };

/**
 * Whether this machine can run the namespace tests. `kernel: true` means the kernel lacks a
 * feature (the tests skip); otherwise the setup is wrong (the tests fail with the reason).
 */
export async function netnsSupport(): Promise<Support> {
  if (process.platform !== "linux") return { ok: false, reason: "not Linux", kernel: true };
  if (process.getuid?.() !== 0) {
    return { ok: false, reason: "namespace tests need root", kernel: false };
  }
  for (const name of ["ip", "iptables", "ip6tables", "setpriv"]) {
    if (!path.isAbsolute(tool(name))) {
      return { ok: false, reason: `${name} not found (make deps)`, kernel: false };
    }
  }
  return probeKernel();
}

/** Two namespaces, a veth between them and a nat table: what every namespace test needs. */
async function probeKernel(): Promise<Support> {
  const lab = new NetnsLab();
  try {
    const a = await lab.create("probe");
    await lab.link(a, await lab.create("probe"));
    const nat = await a.exec("iptables", ["-t", "nat", "-S"]);
    if (nat.code === 0) return { ok: true };
    return { ok: false, reason: `no iptables nat table: ${nat.stderr.trim()}`, kernel: true };
  } catch (err) {
    return { ok: false, reason: (err as Error).message, kernel: true };
  } finally {
    await lab.cleanup();
  }
}
