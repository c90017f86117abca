// A listener (inbound or outbound): accept → original destination → resolve, and in parallel
// detect the protocol (skipped on opaque ports) → hand the connection to HTTP/1, HTTP/2, TLS
// termination or opaque TCP. Tracks its connections so a drain can close them gracefully.

import * as net from "node:net";
import type { DirectionConfig } from "./config";
import { startsTlsRecord } from "./detect/classify";
import { detectProtocol, type Detected } from "./detect/detect";
import { ProxyError, errnoOf } from "./errors";
import { Http1Connection, type Http1Env } from "./http1/connection";
import { resolverRouter, type RequestResolver, type RequestRouter } from "./http1/exchange";
import { serveH2, type H2Pool } from "./http2/proxy";
import type { Interception, OriginalDst } from "./interception";
import type { Logger } from "./log";
import type { DeferredTcpMetrics, Direction, ProxyMetrics, TlsLabels } from "./metrics/metrics";
import { pickEndpoint, type Endpoint, type Resolver } from "./route/resolver";
import { connectUpstream, forwardOpaque, forwardOpaqueVia, type OpaqueEnv } from "./tcp/opaque";
import { negotiatedTransport, readTransportHeader } from "./tcp/transport";
import { inboundIdentityDecision } from "./tls/inbound-policy";
import { inboundTlsLabels, outboundTlsLabels, type TlsSeam } from "./tls/seam";

export interface ListenerEnv {
  readonly direction: Direction;
  readonly config: DirectionConfig;
  readonly resolver: Resolver;
  readonly tls: TlsSeam;
  readonly metrics: ProxyMetrics;
  readonly log: Logger;
  readonly interception: Interception;
  readonly h1: Http1Env;
  readonly h2: H2Pool;
  readonly opaque: OpaqueEnv;
  /** Resolve every HTTP request by its authority (set when a discovering resolver is plugged in). */
  readonly resolvePerRequest: boolean;
  /** Inbound ports where connections without a verified client identity are refused. */
  readonly requireIdentity: ReadonlySet<number>;
  /** Outbound HTTP/1 through a route layer: the router of connections to one original destination. */
  readonly http1Router?: Http1Routes;
}

/** The route layer of HTTP/1 connections to `dst` (profiles, timeouts, retries, balancing per request). */
export type Http1Routes = (dst: OriginalDst) => RequestRouter;

interface Tracked {
  drain(): void;
  readonly socket: net.Socket;
  readonly dst: OriginalDst | undefined;
  /** The accepted connection's TCP metrics, opened once its TLS labels are known. */
  readonly tcp?: DeferredTcpMetrics;
}

/** Where an accepted connection was going: the test-only fixed target, or SO_ORIGINAL_DST. */
export function targetOf(
  socket: net.Socket,
  config: DirectionConfig,
  interception: Interception,
): OriginalDst | undefined {
  const fixed = config.fixedTarget;
  if (fixed !== undefined)
    return { address: fixed.host, port: fixed.port, family: fixed.host.includes(":") ? 6 : 4 };
  const dst = interception.originalDestination(socket);
  // A connection made straight to the proxy's own port has itself as original destination.
  if (dst === undefined || (dst.port === socket.localPort && dst.address === socket.localAddress))
    return undefined;
  return dst;
}

export function formatAddr(dst: OriginalDst | undefined): string {
  if (dst === undefined) return "unknown";
  return dst.family === 6 ? `[${dst.address}]:${dst.port}` : `${dst.address}:${dst.port}`;
}

function endpointLabels(ep: Endpoint | ProxyError): Readonly<Record<string, string>> | undefined {
  return ep instanceof ProxyError ? undefined : ep.labels;
}

export class Listener {
  readonly server: net.Server;
  private readonly conns = new Set<Tracked>();
  private draining = false;

  constructor(private readonly env: ListenerEnv) {
    this.server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) =>
      this.accept(s),
    );
  }

  listen(): Promise<net.AddressInfo> {
    const { host, port } = this.env.config.listen;
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen({ host, port }, () => {
        this.server.removeListener("error", reject);
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  get connections(): number {
    return this.conns.size;
  }

  /** Stops accepting and asks every connection to finish what it is doing. */
  drain(): void {
    this.draining = true;
    this.server.close();
    for (const c of this.conns) c.drain();
  }

  destroyAll(): void {
    this.server.close();
    for (const c of this.conns) c.socket.destroy();
  }

  private accept(socket: net.Socket): void {
    const env = this.env;
    const dst = targetOf(socket, env.config, env.interception);
    const targetAddr = formatAddr(dst);
    const opaquePort = dst !== undefined && env.config.opaquePorts.has(dst.port);
    const tcp = env.metrics.tcpDeferred(
      env.direction,
      "src",
      targetAddr,
      env.tls.plaintextLabels,
      socket,
    );
    // A connection that may be mTLS is counted once terminate() knows the client's identity;
    // any other is counted as plaintext from its first bytes.
    if (env.direction === "inbound" && env.tls.inbound !== undefined && !opaquePort)
      socket.once("data", (b: Buffer) => {
        if (!startsTlsRecord(b)) tcp.open();
      });
    else tcp.open();
    // Until the protocol is known a drain leaves the connection alone: its first request may
    // already be on the way, and dispatch drains it right after that request.
    const tracked: Tracked = { socket, dst, drain: () => undefined, tcp };
    let failure: Error | undefined;
    this.conns.add(tracked);
    socket.on("error", (e) => (failure = e));
    socket.on("close", () => {
      this.conns.delete(tracked);
      tcp.closed(socket.bytesRead, socket.bytesWritten, errnoOf(failure));
    });
    const resolved = this.lookup(dst);
    const endpoint = resolved.then((r) => r.endpoint);
    if (opaquePort) {
      if (this.refuseUnverified(socket, dst)) return;
      void endpoint.then((ep) => this.opaque(socket, Buffer.alloc(0), ep, dst));
      return;
    }
    if (env.direction === "inbound") return this.detect(tracked, endpoint, targetAddr);
    // Outbound, discovery may mark the port opaque: detection would wait for the client's
    // bytes while a server-speaks-first peer waits for the connection.
    void resolved.then((r) => {
      if (!r.opaque) return this.detect(tracked, endpoint, targetAddr);
      this.opaque(socket, Buffer.alloc(0), r.endpoint, dst);
    });
  }

  private detect(
    tracked: Tracked,
    endpoint: Promise<Endpoint | ProxyError>,
    targetAddr: string,
  ): void {
    const env = this.env;
    const { socket, dst } = tracked;
    detectProtocol(socket, env.config.detectTimeoutMs, (detected) => {
      if (detected === undefined) return void socket.destroy();
      if (detected.timedOut) env.metrics.detectTimeout(env.direction, targetAddr);
      // TLS is checked once terminated; without a terminator it cannot prove an identity.
      const verifiable = detected.protocol === "tls" && env.tls.inbound !== undefined;
      if (!verifiable && this.refuseUnverified(socket, dst)) return;
      void endpoint.then((ep) =>
        this.dispatch(tracked, detected, ep, targetAddr, this.connectionLabels(ep)),
      );
    });
  }

  /** TLS labels of a connection not terminated here: outbound, those of the endpoint's identity. */
  private connectionLabels(ep: Endpoint | ProxyError): TlsLabels {
    const tls = this.env.tls;
    if (this.env.direction === "inbound" || ep instanceof ProxyError) return tls.plaintextLabels;
    return outboundTlsLabels(tls, tls.outbound.peerIdentity(ep));
  }

  /** Inbound to a require-identity port without a verified client: closed and counted. */
  private refuseUnverified(socket: net.Socket, dst: OriginalDst | undefined): boolean {
    const env = this.env;
    if (env.direction !== "inbound" || dst === undefined) return false;
    const decision = inboundIdentityDecision(dst.port, env.requireIdentity, undefined);
    if (decision.action === "accept") return false;
    env.tls.refused?.(decision.reason);
    if (env.log.debugOn) env.log.debug("refused", { port: dst.port, reason: decision.reason });
    socket.destroy();
    return true;
  }

  private async resolve(
    dst: OriginalDst | undefined,
    authority?: string,
  ): Promise<Endpoint | ProxyError> {
    return (await this.lookup(dst, authority)).endpoint;
  }

  /** The endpoint to use (or why there is none) and whether discovery marks the target opaque. */
  private async lookup(
    dst: OriginalDst | undefined,
    authority?: string,
  ): Promise<{ endpoint: Endpoint | ProxyError; opaque: boolean }> {
    if (dst === undefined)
      return {
        endpoint: new ProxyError("WEFT_ERR_NO_ROUTE", "original destination unknown"),
        opaque: false,
      };
    try {
      const set = await this.env.resolver.resolve({
        direction: this.env.direction,
        address: dst.address,
        port: dst.port,
        ...(authority ? { authority } : {}),
      });
      const endpoint = pickEndpoint(set) ?? new ProxyError("WEFT_ERR_NO_ROUTE", "no endpoints");
      return { endpoint, opaque: set.opaque === true };
    } catch (err) {
      const endpoint = new ProxyError("WEFT_ERR_NO_ROUTE", (err as Error).message, err);
      return { endpoint, opaque: false };
    }
  }

  private dispatch(
    t: Tracked,
    d: Detected,
    ep: Endpoint | ProxyError,
    targetAddr: string,
    tls: TlsLabels,
  ): void {
    const env = this.env;
    if (t.socket.destroyed) return;
    if (env.log.debugOn)
      env.log.debug("accepted", {
        direction: env.direction,
        protocol: d.protocol,
        target: targetAddr,
      });
    switch (d.protocol) {
      case "http1":
        return this.serveHttp1(t, d, ep, targetAddr, tls);
      case "h2":
        return this.serveHttp2(t, d, ep, targetAddr, tls);
      case "tls":
        if (env.direction === "inbound" && env.tls.inbound !== undefined)
          return this.terminate(t, d, ep, targetAddr);
        return this.opaque(t.socket, d.initial, ep, t.dst);
      default:
        t.drain = () => undefined;
        return this.opaque(t.socket, d.initial, ep, t.dst);
    }
  }

  /** Opaque TCP: outbound through the resolver's L4 balancer when it has one, else to `ep`. */
  private opaque(
    socket: net.Socket,
    initial: Buffer,
    ep: Endpoint | ProxyError,
    dst: OriginalDst | undefined,
  ): void {
    const env = this.env;
    const balanced = env.resolver.connectOpaque;
    if (env.direction !== "outbound" || !balanced || !dst || ep instanceof ProxyError)
      return forwardOpaque(socket, initial, ep, env.opaque);
    const target = { direction: env.direction, address: dst.address, port: dst.port };
    forwardOpaqueVia(
      socket,
      initial,
      balanced(target, (e) => connectUpstream(e, env.opaque)),
    );
  }

  /** With a discovering resolver each request is resolved by its authority, else once per connection. */
  private perRequest(t: Tracked): RequestResolver | undefined {
    const dst = t.dst;
    if (!this.env.resolvePerRequest || dst === undefined) return undefined;
    return (authority) => this.resolve(dst, authority);
  }

  private serveHttp1(
    t: Tracked,
    d: Detected,
    ep: Endpoint | ProxyError,
    targetAddr: string,
    tls: TlsLabels,
  ): void {
    const env = this.env;
    const conn =
      env.http1Router !== undefined && t.dst !== undefined
        ? new Http1Connection(t.socket, env.h1, ep, null, env.http1Router(t.dst))
        : this.http1Connection(t, ep, targetAddr, tls);
    if (env.direction === "inbound") conn.inbound = { clientId: tls.client_id };
    t.drain = () => conn.drain();
    conn.start(d.initial);
    if (this.draining) conn.drain();
  }

  /** Requests counted by this connection's target; resolved per request, or once per connection. */
  private http1Connection(
    t: Tracked,
    ep: Endpoint | ProxyError,
    targetAddr: string,
    tls: TlsLabels,
  ): Http1Connection {
    const env = this.env;
    const perRequest = this.perRequest(t);
    const scope = env.metrics.http(
      env.direction,
      targetAddr,
      tls,
      perRequest ? undefined : endpointLabels(ep),
    );
    const router = perRequest === undefined ? undefined : resolverRouter(perRequest);
    return new Http1Connection(t.socket, env.h1, ep, scope, router);
  }

  private serveHttp2(
    t: Tracked,
    d: Detected,
    ep: Endpoint | ProxyError,
    targetAddr: string,
    tls: TlsLabels,
  ): void {
    const env = this.env;
    const perRequest = this.perRequest(t);
    const scope = env.metrics.http(
      env.direction,
      targetAddr,
      tls,
      perRequest ? undefined : endpointLabels(ep),
    );
    const router =
      env.direction === "outbound" && t.dst !== undefined
        ? env.resolver.outboundH2?.(t.dst, env.h2)
        : undefined;
    const session = serveH2(t.socket, d.initial, {
      endpoint: ep,
      scope,
      pool: env.h2,
      log: env.log,
      perRequest,
      handler: router,
      clientId: env.direction === "inbound" ? { value: tls.client_id } : undefined,
    });
    t.drain = () => session.close();
    if (this.draining) session.close();
  }

  private terminate(t: Tracked, d: Detected, ep: Endpoint | ProxyError, targetAddr: string): void {
    const env = this.env;
    const terminator = env.tls.inbound as NonNullable<TlsSeam["inbound"]>;
    terminator.terminate(t.socket, d.initial).then(
      (done) => {
        if (done === undefined) {
          t.tcp?.open();
          if (this.refuseUnverified(t.socket, t.dst)) return;
          return forwardOpaque(t.socket, d.initial, ep, env.opaque);
        }
        const labels = inboundTlsLabels(env.tls, done.clientIdentity, true);
        t.tcp?.open(labels);
        if (negotiatedTransport(done.socket)) return this.forwardTransport(t, done.socket);
        const inner: Tracked = { socket: done.socket, dst: t.dst, drain: () => done.socket.end() };
        t.drain = () => inner.drain();
        detectProtocol(done.socket, env.config.detectTimeoutMs, (again) => {
          if (again === undefined) return void done.socket.destroy();
          this.dispatch(
            inner,
            again.protocol === "tls" ? { ...again, protocol: "opaque" } : again,
            ep,
            targetAddr,
            labels,
          );
          t.drain = () => inner.drain();
        });
      },
      () => t.socket.destroy(),
    );
  }

  /** Opaque traffic from a meshed peer: its transport header names the application's port. */
  private forwardTransport(t: Tracked, socket: net.Socket): void {
    t.drain = () => undefined;
    readTransportHeader(socket, this.env.config.detectTimeoutMs, (r) => {
      if (r instanceof ProxyError) return void socket.destroy();
      forwardOpaque(socket, r.rest, { address: "127.0.0.1", port: r.port }, this.env.opaque);
    });
  }
}
