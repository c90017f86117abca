// `weft-proxy await`: waits for the local proxy's admin /ready. The injector runs it as the
// proxy container's postStart hook when the proxy is a regular container, so the kubelet holds
// the app's containers until the proxy can carry their traffic.
import http from "node:http";
import { parseDuration, parseHostPort } from "../config";

const DEFAULT_ADMIN_PORT = 4191;
const DEFAULT_TIMEOUT_MS = 120_000;
const POLL_INTERVAL_MS = 200;
/** One probe never outlives the poll it belongs to by much. */
const PROBE_TIMEOUT_MS = 1000;

export const AWAIT_USAGE = "usage: weft-proxy await [--timeout=<duration, e.g. 2m>]";

/** A flag or environment value `await` cannot use. */
export class AwaitUsageError extends Error {
  readonly code = "WEFT_ERR_AWAIT_USAGE";

  constructor(problem: string) {
    super(`weft-proxy await: ${problem}\n${AWAIT_USAGE}`);
    this.name = "AwaitUsageError";
  }
}

/** The proxy did not answer 200 on /ready before the deadline. */
export class AwaitTimeoutError extends Error {
  readonly code = "WEFT_ERR_AWAIT_TIMEOUT";

  constructor(port: number, timeoutMs: number, last: string) {
    super(
      `weft-proxy await: the proxy was not ready after ${timeoutMs} ms ` +
        `(http://127.0.0.1:${port}/ready, last: ${last})`,
    );
    this.name = "AwaitTimeoutError";
  }
}

export interface AwaitOptions {
  port: number;
  timeoutMs: number;
  intervalMs?: number;
}

/** `--timeout=2m` or `--timeout 2m`; nothing else is accepted. */
export function parseAwaitArgs(argv: string[]): { timeoutMs: number } {
  if (argv.length === 0) return { timeoutMs: DEFAULT_TIMEOUT_MS };
  const [first, second] = argv;
  const inline = /^--timeout=(.*)$/.exec(first);
  const value = inline ? inline[1] : first === "--timeout" ? second : undefined;
  const used = inline ? 1 : 2;
  if (value === undefined || argv.length > used) {
    throw new AwaitUsageError(`unexpected arguments: ${argv.join(" ")}`);
  }
  const timeoutMs = parseDuration(value);
  if (timeoutMs === undefined || timeoutMs <= 0) {
    throw new AwaitUsageError(`--timeout must be a duration like 30s or 2m, not '${value}'`);
  }
  return { timeoutMs };
}

/** The admin port from WEFT_PROXY_ADMIN_LISTEN_ADDR; the proxy listens there on every address. */
export function adminPort(env: NodeJS.ProcessEnv): number {
  const raw = env.WEFT_PROXY_ADMIN_LISTEN_ADDR;
  if (raw === undefined || raw === "") return DEFAULT_ADMIN_PORT;
  const hp = parseHostPort(raw);
  if (!hp) {
    throw new AwaitUsageError(`WEFT_PROXY_ADMIN_LISTEN_ADDR must be host:port, not '${raw}'`);
  }
  return hp.port;
}

/** One GET /ready: the status code, or what went wrong in words. */
export function probeReady(port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/ready", timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () =>
      req.destroy(Object.assign(new Error("no answer"), { code: "ETIMEDOUT" })),
    );
    req.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls /ready until 200; throws AwaitTimeoutError with the last answer at the deadline. */
export async function awaitReady(opts: AwaitOptions): Promise<number> {
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  let last = "no attempt";
  while (Date.now() < deadline) {
    const probeMs = Math.min(PROBE_TIMEOUT_MS, Math.max(1, deadline - Date.now()));
    const answer = await probeReady(opts.port, probeMs);
    if (answer === 200) return Date.now() - started;
    // A probe the deadline cut short says nothing about the proxy; keep the answer before it.
    const cutShort = answer === "ETIMEDOUT" && probeMs < PROBE_TIMEOUT_MS && last !== "no attempt";
    if (!cutShort) last = typeof answer === "number" ? `HTTP ${answer}` : answer;
    await sleep(Math.min(opts.intervalMs ?? POLL_INTERVAL_MS, Math.max(0, deadline - Date.now())));
  }
  throw new AwaitTimeoutError(opts.port, opts.timeoutMs, last);
}

export interface AwaitIo {
  env: NodeJS.ProcessEnv;
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIo = (): AwaitIo => ({
  env: process.env,
  out: (l) => process.stdout.write(l + "\n"),
  err: (l) => process.stderr.write(l + "\n"),
});

/** Exit code: 0 ready, 1 timed out, 2 bad usage. */
export async function runAwait(argv: string[], io: AwaitIo = defaultIo()): Promise<number> {
  try {
    const { timeoutMs } = parseAwaitArgs(argv);
    const port = adminPort(io.env);
    const tookMs = await awaitReady({ port, timeoutMs });
    io.out(`weft-proxy await: the proxy is ready (${tookMs} ms)`);
    return 0;
  } catch (err) {
    if (err instanceof AwaitUsageError) return fail(io, err, 2);
    if (err instanceof AwaitTimeoutError) return fail(io, err, 1);
    throw err;
  }
}

function fail(io: AwaitIo, err: Error & { code: string }, exitCode: number): number {
  io.err(`${err.message} [${err.code}]`);
  return exitCode;
}
