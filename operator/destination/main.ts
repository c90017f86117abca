/**
 * `weft-controller destination`: watches the cluster and serves the destination API on 8086,
 * with `/metrics`, `/ready` and `/live` on the admin port.
 */
import * as http from "node:http";
import type * as grpc from "@grpc/grpc-js";
import { DestinationFlagError } from "./errors";
import { createMetrics, type DestinationMetrics } from "./metrics";
import { EndpointsWatcher } from "./publishers";
import { startServer } from "./server";
import { ClusterStore } from "./store";
import { KubernetesWatchSource, type WatchSource } from "./watch";

export interface DestinationOptions {
  addr: string;
  adminAddr: string;
  controllerNamespace: string;
  clusterDomain: string;
  trustDomain: string;
  queueCapacity: number;
}

export const DEFAULT_OPTIONS: DestinationOptions = {
  addr: "0.0.0.0:8086",
  adminAddr: "0.0.0.0:9996",
  controllerNamespace: "weft-system",
  clusterDomain: "cluster.local",
  trustDomain: "cluster.local",
  queueCapacity: 100,
};

const FLAGS: Record<string, keyof DestinationOptions> = {
  "--addr": "addr",
  "--admin-addr": "adminAddr",
  "--controller-namespace": "controllerNamespace",
  "--cluster-domain": "clusterDomain",
  "--trust-domain": "trustDomain",
  "--queue-capacity": "queueCapacity",
};

/** Parses `--flag value` and `--flag=value`; throws DestinationFlagError on anything else. */
export function parseFlags(argv: string[]): DestinationOptions {
  const opts: DestinationOptions = { ...DEFAULT_OPTIONS };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const field = FLAGS[flag];
    if (!field)
      throw new DestinationFlagError(
        flag,
        `unknown; known flags: ${Object.keys(FLAGS).join(", ")}`,
      );
    const value = inline ?? argv[++i];
    if (value === undefined) throw new DestinationFlagError(flag, "needs a value");
    if (field === "queueCapacity") {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1)
        throw new DestinationFlagError(flag, "must be a positive integer");
      opts.queueCapacity = n;
    } else {
      opts[field] = value;
    }
  }
  return opts;
}

export interface RunningDestination {
  port: number;
  watcher: EndpointsWatcher;
  metrics: DestinationMetrics;
  server: grpc.Server;
  stop(): Promise<void>;
}

/** Starts the watch source and the gRPC server (the admin endpoint is separate). */
export async function startDestination(
  opts: DestinationOptions,
  source: WatchSource,
): Promise<RunningDestination> {
  const metrics = createMetrics();
  const watcher = new EndpointsWatcher(new ClusterStore(), {
    controllerNamespace: opts.controllerNamespace,
    trustDomain: opts.trustDomain,
    clusterDomain: opts.clusterDomain,
  });
  await source.start((event) => {
    metrics.watchEvents.inc({ kind: event.kind, phase: event.phase });
    try {
      watcher.apply(event);
    } catch (err) {
      metrics.watchErrors.inc({ kind: event.kind });
      const name = `${event.object.metadata?.namespace}/${event.object.metadata?.name}`;
      process.stderr.write(`destination: ${event.kind} ${name} not applied: ${String(err)}\n`);
    }
  });
  const { server, port } = await startServer(
    { watcher, metrics, clusterDomain: opts.clusterDomain, queueCapacity: opts.queueCapacity },
    opts.addr,
  );
  const stop = async (): Promise<void> => {
    source.stop();
    watcher.closeAll("shutting down");
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  };
  return { port, watcher, metrics, server, stop };
}

function splitAddr(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  return { host: addr.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(addr.slice(i + 1)) };
}

function startAdmin(addr: string, running: RunningDestination): http.Server {
  const server = http.createServer((req, res) => {
    if (req.url === "/metrics") {
      const { endpointPublishers, profilePublishers } = running.watcher.counts();
      running.metrics.publishers.set({ rpc: "get" }, endpointPublishers);
      running.metrics.publishers.set({ rpc: "getProfile" }, profilePublishers);
      void running.metrics.registry.metrics().then((text) => {
        res.writeHead(200, { "content-type": running.metrics.registry.contentType });
        res.end(text);
      });
      return;
    }
    const ok = req.url === "/ready" || req.url === "/live";
    res.writeHead(ok ? 200 : 404).end(ok ? "ok\n" : "not found\n");
  });
  const { host, port } = splitAddr(addr);
  server.listen(port, host);
  return server;
}

/** The `weft-controller destination` entry point. */
export async function run(argv: string[]): Promise<void> {
  const opts = parseFlags(argv);
  const source = new KubernetesWatchSource((kind, err) => {
    process.stderr.write(`destination: watch of ${kind} failed: ${String(err)}\n`);
  });
  const running = await startDestination(opts, source);
  const admin = startAdmin(opts.adminAddr, running);
  process.stdout.write(
    `destination: serving on ${opts.addr} (port ${running.port}), admin on ${opts.adminAddr}\n`,
  );
  await new Promise<void>((resolve) => {
    const shutdown = (): void => {
      admin.close();
      void running.stop().then(resolve);
    };
    process.once("SIGTERM", shutdown);
    process.once("SIGINT", shutdown);
  });
}
