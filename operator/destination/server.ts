/**
 * The gRPC face of the destination service: parses a request, subscribes a StreamQueue to the
 * publisher of its target, and unsubscribes when the stream ends. Messages are serialized once
 * per message, however many streams carry them.
 */
import * as grpc from "@grpc/grpc-js";
import {
  DestinationProfile,
  DestinationService,
  GetDestination,
  Update,
  type DestinationServer,
} from "../../api/gen/destination";
import type { DestinationMetrics } from "./metrics";
import { parseContextToken, parsePath, type Target } from "./path";
import type { EndpointsWatcher, Subscription } from "./publishers";
import { DEFAULT_QUEUE_CAPACITY, StreamQueue } from "./stream";

function cachedSerializer<T extends object>(encode: (v: T) => Uint8Array): (v: T) => Buffer {
  const cache = new WeakMap<T, Buffer>();
  return (v: T): Buffer => {
    let buf = cache.get(v);
    if (!buf) {
      const bytes = encode(v);
      buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      cache.set(v, buf);
    }
    return buf;
  };
}

/** DestinationService with response serializers that encode each shared message once. */
export const sharedDestinationService = {
  get: {
    ...DestinationService.get,
    responseSerialize: cachedSerializer((v: Update) => Update.encode(v).finish()),
  },
  getProfile: {
    ...DestinationService.getProfile,
    responseSerialize: cachedSerializer((v: DestinationProfile) =>
      DestinationProfile.encode(v).finish(),
    ),
  },
} as const;

export interface ServerOptions {
  watcher: EndpointsWatcher;
  metrics: DestinationMetrics;
  clusterDomain: string;
  queueCapacity?: number;
}

type Call<T> = grpc.ServerWritableStream<GetDestination, T>;

function parseTarget<T>(call: Call<T>, clusterDomain: string): Target | undefined {
  try {
    return parsePath(call.request.path, clusterDomain);
  } catch (err) {
    call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
    return undefined;
  }
}

function serve<T>(
  call: Call<T>,
  rpc: "get" | "getProfile",
  opts: ServerOptions,
  subscribe: (target: Target, q: StreamQueue<T>) => Subscription,
): void {
  const target = parseTarget(call, opts.clusterDomain);
  if (!target) return;
  const m = opts.metrics;
  const queue = new StreamQueue<T>(call, opts.queueCapacity ?? DEFAULT_QUEUE_CAPACITY, {
    overflow: () => m.streamOverflows.inc({ rpc }),
  });
  m.streams.inc({ rpc });
  const sub = subscribe(target, queue);
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    queue.cancel();
    sub.unsubscribe();
    m.streams.dec({ rpc });
  };
  call.on("cancelled", finish);
  call.on("close", finish);
  call.on("finish", finish);
  call.on("error", finish);
}

export function destinationHandlers(opts: ServerOptions): DestinationServer {
  return {
    get: (call: Call<Update>): void =>
      serve(call, "get", opts, (target, q) => opts.watcher.subscribeEndpoints(target, q)),
    getProfile: (call: Call<DestinationProfile>): void => {
      const clientNs = parseContextToken(call.request.contextToken).ns;
      serve(call, "getProfile", opts, (target, q) =>
        opts.watcher.subscribeProfile(target, clientNs, q),
      );
    },
  };
}

/** Starts a gRPC server for the handlers on `address`; resolves to the bound port. */
export async function startServer(
  opts: ServerOptions,
  address: string,
): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server({
    "grpc.keepalive_time_ms": 10000,
    "grpc.max_concurrent_streams": 1 << 20,
  });
  server.addService(sharedDestinationService, destinationHandlers(opts));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { server, port };
}
