import { execFile, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import { pinned } from "./pin";

/** The CPUs the load generators run on (see pin.ts); undefined: anywhere. */
let loadCpus: string | undefined;
export function pinLoad(cpus: string | undefined): void {
  loadCpus = cpus;
}

function exec(bin: string, argv: string[], timeoutMs: number): Promise<string> {
  const [cmd, args] = pinned(loadCpus, bin, argv);
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${cmd} ${args.join(" ")}: ${err.message} ${stderr}`));
        else resolve(String(stdout));
      },
    );
  });
}

export interface Saturation {
  rps: number;
  requests: number;
  errors: number;
}

/** wrk at saturation: one thread, `conns` keep-alive connections, `seconds` long. */
export async function wrk(url: string, seconds: number, conns = 32): Promise<Saturation> {
  const out = await exec("wrk", ["-t1", `-c${conns}`, `-d${seconds}s`, url], (seconds + 20) * 1000);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, requests, errors };
}

export interface Latency {
  rate: number;
  achieved: number;
  p50: number;
  p99: number;
  p999: number;
  errors: number;
  /** p99 of the first WARM_SECONDS, while the generator opens its connections (not in p50..p999). */
  rampP99: number;
}

/**
 * The first second of a constant-rate run, when the generator opens its connections, is reported
 * apart (rampP99): steady-state latency is what p50/p99/p99.9 describe; the cost of new
 * connections is measured on its own (connection churn, TLS handshakes).
 */
export const WARM_SECONDS = 1;

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * vegeta at a constant rate (open model: requests are sent on schedule whether or not earlier
 * ones returned, so a stall shows up as latency). Latencies in milliseconds. The results go to a
 * file and are read only after the load: decoding them while it runs would take CPU from the
 * generator and the peers at the moment they are measured.
 */
export async function vegeta(
  bin: string,
  url: string,
  rate: number,
  seconds: number,
): Promise<Latency> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weft-vegeta-"));
  const file = path.join(dir, "results.bin");
  try {
    await attack(bin, url, rate, seconds, file);
    return await decode(bin, file, rate, seconds);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function attack(
  bin: string,
  url: string,
  rate: number,
  seconds: number,
  file: string,
): Promise<void> {
  const [cmd, args] = pinned(loadCpus, bin, [
    "attack",
    `-rate=${rate}/s`,
    `-duration=${seconds + WARM_SECONDS}s`,
    "-timeout=5s",
    "-keepalive=true",
    "-max-workers=2000",
    "-max-body=0",
    `-output=${file}`,
  ]);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "ignore", "inherit"] });
    child.stdin.on("error", () => undefined);
    child.stdin.end(`GET ${url}\n`);
    const kill = setTimeout(() => child.kill("SIGKILL"), (seconds + 30) * 1000);
    child.on("error", reject);
    child.on("close", () => {
      clearTimeout(kill);
      resolve();
    });
  });
}

function decode(bin: string, file: string, rate: number, seconds: number): Promise<Latency> {
  return new Promise((resolve, reject) => {
    const encode = spawn(bin, ["encode", "--to", "csv", file], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    // Streamed line by line: only status and latency are kept, never the CSV itself.
    const lat: number[] = [];
    const ramp: number[] = [];
    let errors = 0;
    let first = NaN;
    readline.createInterface({ input: encode.stdout }).on("line", (line) => {
      const cols = line.split(",");
      const at = Number(cols[0]);
      if (Number.isNaN(first)) first = at;
      if (cols[1] !== "200") errors++;
      (at - first < WARM_SECONDS * 1e9 ? ramp : lat).push(Number(cols[2]) / 1e6);
    });
    encode.on("error", reject);
    encode.on("close", () =>
      resolve({ ...summarize(lat, errors, rate, seconds), rampP99: rampP99(ramp) }),
    );
  });
}

export function summarize(
  lat: number[],
  errors: number,
  rate: number,
  seconds: number,
): Omit<Latency, "rampP99"> {
  lat.sort((a, b) => a - b);
  return {
    rate,
    achieved: lat.length / seconds,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    p999: percentile(lat, 99.9),
    errors,
  };
}

function rampP99(ramp: number[]): number {
  return percentile(
    ramp.sort((a, b) => a - b),
    99,
  );
}

/**
 * crload (bench/loadgen, built into dist/bench/bin by bench/run.sh) at a constant rate: the same
 * open model and warm-up split as vegeta(), at a fraction of its CPU. Latency runs from each
 * request's due time, so a request queued behind a stall (all `--max-conns` connections busy)
 * counts its wait. It summarizes in process and prints one JSON line: nothing to decode after.
 */
export async function crload(
  bin: string,
  url: string,
  rate: number,
  seconds: number,
): Promise<Latency> {
  const argv = [
    `--rate=${rate}`,
    `--duration=${seconds + WARM_SECONDS}`,
    `--warm=${WARM_SECONDS}`,
    "--timeout=5",
    url,
  ];
  // Bounded by itself (schedule + at most --timeout to drain); the kill is for a hang.
  return parseCrload(await exec(bin, argv, (seconds + WARM_SECONDS + 30) * 1000));
}

/** Which constant-rate generator the benchmarks use: crload unless BENCH_LOADGEN=vegeta. */
export const LOADGEN = process.env.BENCH_LOADGEN === "vegeta" ? "vegeta" : "crload";

/** A constant-rate run with the chosen generator (both baseline and peers must use the same one). */
export function constantRate(url: string, rate: number, seconds: number): Promise<Latency> {
  if (LOADGEN === "vegeta") return vegeta(process.env.VEGETA_BIN ?? "vegeta", url, rate, seconds);
  return crload(process.env.CRLOAD_BIN ?? "crload", url, rate, seconds);
}

const CRLOAD_FIELDS = ["rate", "achieved", "p50", "p99", "p999", "errors", "rampP99"] as const;

/**
 * crload's output (its last line, a JSON object) as a Latency; null (no sample in a window) is
 * NaN, as percentile() gives for none. Throws on anything else, quoting it.
 */
export function parseCrload(stdout: string): Latency {
  const line = stdout.trim().split("\n").pop() ?? "";
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new Error(`crload: not JSON: ${line.slice(0, 200)}`);
  }
  const obj = (typeof json === "object" && json !== null ? json : {}) as Record<string, unknown>;
  const out = {} as Latency;
  for (const key of CRLOAD_FIELDS) {
    const v = obj[key];
    if (v !== null && typeof v !== "number") {
      throw new Error(`crload: ${key} is ${JSON.stringify(v)} in ${line.slice(0, 200)}`);
    }
    out[key] = v ?? NaN;
  }
  return out;
}

/** h2load over h2c prior knowledge; requests per second and errors. */
export async function h2load(url: string, seconds: number): Promise<Saturation> {
  const out = await exec(
    "h2load",
    ["-c", "16", "-m", "16", "-D", `${seconds}`, "--warm-up-time=1", url],
    (seconds + 20) * 1000,
  );
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1] ?? 0);
  const m =
    /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(
      out,
    );
  return { rps, requests: Number(m?.[2] ?? 0), errors: Number(m?.[3] ?? 0) + Number(m?.[4] ?? 0) };
}
