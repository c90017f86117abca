/**
 * `weft-controller prometheus [--addr 127.0.0.1:9091]`: the bundled Prometheus's target
 * discovery, a sidecar in its pod. Watches pods and answers Prometheus's HTTP service discovery
 * (`GET /targets`) with every meshed pod's proxy admin port; `/ready` once the first list is in.
 */
import * as http from "node:http";
import type { V1Pod } from "@kubernetes/client-node";
import { TargetSet } from "./targets";

export const DEFAULT_ADDR = "127.0.0.1:9091";

export class PrometheusFlagError extends Error {
  readonly code = "WEFT_ERR_PROMETHEUS_FLAG";

  constructor(detail: string) {
    super(`weft-controller prometheus: ${detail}; usage: prometheus [--addr host:port]`);
    this.name = "PrometheusFlagError";
  }
}

export function parseAddr(argv: string[]): { host: string; port: number } {
  let addr = DEFAULT_ADDR;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    if (flag !== "--addr") throw new PrometheusFlagError(`unknown flag ${flag}`);
    addr = inline ?? argv[++i] ?? "";
  }
  const m = /^(.*):(\d{1,5})$/.exec(addr);
  if (!m || Number(m[2]) > 65535) throw new PrometheusFlagError(`--addr ${addr} is not host:port`);
  return { host: m[1].replace(/^\[|\]$/g, ""), port: Number(m[2]) };
}

/** Serves the targets; `ready()` says whether the first pod list has arrived. */
export function targetServer(targets: TargetSet, ready: () => boolean): http.Server {
  return http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/targets") {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(targets.groups()));
    } else if (path === "/ready" || path === "/live") {
      res.statusCode = path === "/live" || ready() ? 200 : 503;
      res.end(res.statusCode === 200 ? "ok\n" : "waiting for the first pod list\n");
    } else {
      res.statusCode = 404;
      res.end("not found: GET /targets, /ready, /live\n");
    }
  });
}

export async function run(argv: string[]): Promise<void> {
  const { host, port } = parseAddr(argv);
  const { K8s, kind, WatchEvent } = await import("kubernetes-fluent-client");
  const targets = new TargetSet();
  let listed = false;
  const watcher = K8s(kind.Pod).Watch((pod: V1Pod, phase: string) => targets.apply(pod, phase));
  watcher.events.on(WatchEvent.LIST, () => (listed = true));
  watcher.events.on(WatchEvent.LIST_ERROR, (err: unknown) =>
    process.stderr.write(`prometheus targets: listing pods failed: ${String(err)}\n`),
  );
  const server = targetServer(targets, () => listed);
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  await watcher.start();
  process.stdout.write(`prometheus targets: serving on ${host}:${port}\n`);
  await new Promise<void>((resolve) => {
    const shutdown = (): void => {
      watcher.close();
      server.close(() => resolve());
    };
    process.once("SIGTERM", shutdown);
    process.once("SIGINT", shutdown);
  });
}
