// Opaque TCP: bytes are forwarded unchanged to the endpoint, both ways, until both sides close.

import * as net from "node:net";
import { errnoOf, type ProxyError } from "../errors";
import type { Direction, ProxyMetrics } from "../metrics/metrics";
import { endpointKey, type Endpoint } from "../route/resolver";
import { outboundTlsLabels, type TlsSeam } from "../tls/seam";
import { tunnel } from "./pipe";
import { connectWithSlabReads } from "./reads";
import { transportPlan } from "./transport";

export interface OpaqueEnv {
  readonly direction: Direction;
  readonly connectTimeoutMs: number;
  readonly tls: TlsSeam;
  readonly metrics: ProxyMetrics;
}

/** Connects to the endpoint and joins it to the client; `initial` is what detection already read. */
export function forwardOpaque(
  client: net.Socket,
  initial: Buffer,
  endpoint: Endpoint | ProxyError,
  env: OpaqueEnv,
): void {
  if (!("address" in endpoint)) {
    client.destroy();
    return;
  }
  joinOpaque(client, initial, openUpstream(endpoint, env).upstream);
}

/**
 * Joins the client to an upstream that `connect` opens (e.g. through the L4 balancer, which
 * moves to another endpoint when a connect fails); the client is closed when none connects.
 */
export function forwardOpaqueVia(
  client: net.Socket,
  initial: Buffer,
  connect: Promise<net.Socket>,
): void {
  connect.then(
    (upstream) => joinOpaque(client, initial, upstream),
    () => client.destroy(),
  );
}

/**
 * Opens the upstream to `endpoint` (mTLS and the transport header when it is meshed), counted
 * in tcp_*; resolves once the TCP connection is up, rejects when it fails or times out.
 */
export function connectUpstream(endpoint: Endpoint, env: OpaqueEnv): Promise<net.Socket> {
  const { raw, upstream } = openUpstream(endpoint, env);
  return new Promise((resolve, reject) => {
    const onConnect = (): void => {
      upstream.off("close", onClose);
      resolve(upstream);
    };
    const onClose = (): void => {
      raw.off("connect", onConnect);
      reject(upstream.errored ?? raw.errored ?? new Error("upstream closed before connecting"));
    };
    raw.once("connect", onConnect);
    upstream.once("close", onClose);
  });
}

function openUpstream(
  endpoint: Endpoint,
  env: OpaqueEnv,
): { raw: net.Socket; upstream: net.Socket } {
  const identity = env.tls.outbound.peerIdentity(endpoint);
  const plan = transportPlan(endpoint, identity);
  const port = plan?.port ?? endpoint.port;
  const raw =
    identity === undefined
      ? connectWithSlabReads(endpoint.address, port)
      : net.connect({ host: endpoint.address, port });
  const upstream =
    identity === undefined
      ? raw
      : env.tls.outbound.originate(raw, identity, plan?.alpn ?? [], endpoint.address);
  const tcp = env.metrics.tcp(
    env.direction,
    "dst",
    endpointKey(endpoint),
    outboundTlsLabels(env.tls, identity),
    upstream,
  );
  let failure: Error | undefined;
  upstream.setNoDelay(true);
  upstream.setTimeout(env.connectTimeoutMs, () =>
    upstream.destroy(Object.assign(new Error("connect timed out"), { code: "ETIMEDOUT" })),
  );
  upstream.once("connect", () => upstream.setTimeout(0));
  upstream.on("error", (e) => (failure = e));
  upstream.on("close", () =>
    tcp.closed(upstream.bytesRead, upstream.bytesWritten, errnoOf(failure)),
  );
  if (plan !== undefined) upstream.write(plan.preamble);
  return { raw, upstream };
}

function joinOpaque(client: net.Socket, initial: Buffer, upstream: net.Socket): void {
  if (initial.length > 0) upstream.write(initial);
  const ended = client.readableEnded;
  tunnel(client, upstream);
  if (ended) upstream.end();
  client.resume();
}
