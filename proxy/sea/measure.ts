import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";

export interface StartFigures {
  /** From spawn to the first 200 from GET /live, milliseconds. */
  startMs: number;
  /** CPU (user + system) the process used up to that point, ms: steadier than wall time on a busy host. */
  startCpuMs: number;
  rssKb: number;
  rssAnonKb: number;
}

/** utime + stime of a process in milliseconds (CLK_TCK is 100 on Linux x86-64). */
export function cpuMsOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** VmRSS and RssAnon of a process, in kB, from /proc/<pid>/status. */
export function memoryOf(pid: number): { rssKb: number; rssAnonKb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rssKb: field("VmRSS"), rssAnonKb: field("RssAnon") };
}

function live(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: "/live", timeout: 500 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
  });
}

/** Polls /live every 2 ms for at most `timeoutMs`; the elapsed time since `t0` or a rejection. */
export async function waitLive(
  host: string,
  port: number,
  t0: number,
  timeoutMs: number,
): Promise<number> {
  while (performance.now() - t0 < timeoutMs) {
    if (await live(host, port)) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`no 200 from http://${host}:${port}/live within ${timeoutMs} ms`);
}

/** Starts `argv`, times it to /live, lets it settle `settleMs`, reads its memory. Leaves it running. */
export async function measureStart(
  argv: string[],
  env: NodeJS.ProcessEnv,
  admin: { host: string; port: number },
  settleMs = 1000,
): Promise<{ child: ChildProcess; figures: StartFigures }> {
  const t0 = performance.now();
  const child = spawn(argv[0], argv.slice(1), { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d) => (stderr += d));
  try {
    const startMs = await waitLive(admin.host, admin.port, t0, 10_000);
    const startCpuMs = cpuMsOf(child.pid as number);
    await new Promise((r) => setTimeout(r, settleMs));
    return { child, figures: { startMs, startCpuMs, ...memoryOf(child.pid as number) } };
  } catch (err) {
    child.kill("SIGKILL");
    throw new Error(`${(err as Error).message}; stderr: ${stderr.slice(0, 2000)}`);
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
