// CPU placement for a fair run on a small host: the load generators (and this process, which
// reads their output) on one CPU, so a generator bursting at 5k/s cannot take every CPU from
// whichever peer it is measuring. Every peer gets the same placement.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** taskset's full path: a peer's environment may have no PATH to find it by (Weft's has none). */
function taskset(): string {
  const dirs = (process.env.PATH ?? "").split(":").concat(["/usr/bin", "/bin"]);
  return dirs.map((d) => path.join(d, "taskset")).find((f) => fs.existsSync(f)) ?? "taskset";
}

export interface Placement {
  /** CPU list for the backend and the proxies (taskset -c form), or undefined when not pinned. */
  readonly peers: string | undefined;
  /** CPU list for wrk, vegeta and h2load. */
  readonly load: string | undefined;
  readonly describe: string;
}

/**
 * BENCH_PIN: `load` (default) keeps the generators on the last CPU, so they never take more than
 * one CPU from the peers, who run anywhere; `split` also keeps the peers off that CPU (on a
 * 2-CPU host that leaves one CPU for a pair and its backend); `off` leaves it to the scheduler.
 */
export function placement(env = process.env, cpus = os.cpus().length): Placement {
  const mode = env.BENCH_PIN ?? "load";
  if (mode === "off" || cpus < 2) {
    const why = cpus < 2 ? "one CPU" : "BENCH_PIN=off";
    return { peers: undefined, load: undefined, describe: `not pinned (${why})` };
  }
  const load = `${cpus - 1}`;
  if (mode !== "split") {
    return {
      peers: undefined,
      load,
      describe: `load generators on CPU ${load} (taskset), peers on any CPU (BENCH_PIN=split|off)`,
    };
  }
  const peers = cpus === 2 ? "0" : `0-${cpus - 2}`;
  return {
    peers,
    load,
    describe: `load generators on CPU ${load}, backend and proxies on CPU ${peers} (taskset)`,
  };
}

/** `cmd args` run on `cpus` through taskset; unchanged when `cpus` is undefined. */
export function pinned(cpus: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return cpus === undefined ? [cmd, args] : [taskset(), ["-c", cpus, cmd, ...args]];
}

/** Moves this process (vegeta's output parsing, the handshake loop) onto the generators' CPU. */
export function pinSelf(cpus: string | undefined): void {
  if (cpus !== undefined)
    execFileSync(taskset(), ["-pc", cpus, `${process.pid}`], { stdio: "ignore" });
}
