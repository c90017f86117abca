// The routing seam. A listener asks the resolver where a connection should go; the default sends
// outbound traffic to its original destination and inbound traffic to the application on
// loopback. Discovery and balancing replace the default without touching the listeners.

import type { Socket } from "node:net";
import type { H2Pool, StreamHandler } from "../http2/proxy";
import type { Direction } from "../metrics/metrics";

/** What a connection was addressed to (its original destination) and, for HTTP, the authority. */
export interface Target {
  readonly direction: Direction;
  readonly address: string;
  readonly port: number;
  readonly authority?: string;
}

export interface Endpoint {
  readonly address: string;
  readonly port: number;
  /** The peer's TLS identity when it is meshed; the TLS seam originates mTLS to it. */
  readonly identity?: string;
  readonly protocolHint?: "h2" | "opaque";
  /** A meshed peer's inbound port: opaque traffic goes there, inside mTLS, after a transport header. */
  readonly opaqueTransportPort?: number;
  /** Extra metric labels (prefixed `dst_` by the metrics layer). */
  readonly labels?: Readonly<Record<string, string>>;
}

export interface EndpointSet {
  readonly endpoints: readonly Endpoint[];
  /**
   * The destination marks the target's port opaque (e.g. a server-speaks-first protocol):
   * outbound connections to it skip protocol detection, which would wait for client bytes.
   */
  readonly opaque?: boolean;
}

/** Takes over the streams of one outbound HTTP/2 connection, given its original destination and client pool. */
export type H2Router = (dst: { address: string; port: number }, pool: H2Pool) => StreamHandler;

export interface Resolver {
  resolve(target: Target): Promise<EndpointSet>;
  /**
   * When set, outbound HTTP/2 streams are served by the route layer it returns (profile routes,
   * timeouts, retries, balancing per stream) instead of being resolved one by one.
   */
  readonly outboundH2?: H2Router;
  /**
   * When set, outbound opaque connections get their upstream from it: `connect` is tried on a
   * balanced endpoint of `target` (L4 P2C), and on another when it fails.
   */
  readonly connectOpaque?: (
    target: Target,
    connect: (endpoint: Endpoint) => Promise<Socket>,
  ) => Promise<Socket>;
}

/** Loopback of the family of the original destination. */
export function loopbackFor(address: string): string {
  return address.includes(":") && !address.startsWith("::ffff:") ? "::1" : "127.0.0.1";
}

/** Outbound: the original destination. Inbound: the application on loopback at the original port. */
export function defaultEndpoint(target: Target): Endpoint {
  if (target.direction === "inbound")
    return { address: loopbackFor(target.address), port: target.port };
  return { address: target.address, port: target.port };
}

export class OriginalDestinationResolver implements Resolver {
  resolve(target: Target): Promise<EndpointSet> {
    return Promise.resolve({ endpoints: [defaultEndpoint(target)] });
  }
}

/** The endpoint a connection uses, until balancing picks per request: the first one. */
export function pickEndpoint(set: EndpointSet): Endpoint | undefined {
  return set.endpoints[0];
}

export function endpointKey(e: Endpoint): string {
  return e.address.includes(":") ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}
