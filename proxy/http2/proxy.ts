// HTTP/2 (h2c prior knowledge, and gRPC) forwarding. Each accepted connection becomes a server
// session; each of its streams is sent on a client session pooled per endpoint. Bodies stream
// both ways with HTTP/2 flow control, trailers are relayed, a reset on either side resets the
// other, and an upstream GOAWAY retires its session from the pool while its streams finish.

import type * as http2 from "node:http2";
import * as net from "node:net";
import { performance } from "node:perf_hooks";
import { ProxyError, errnoOf, sanitize, upstreamError } from "../errors";
import type { Logger } from "../log";
import type { Direction, HttpScope, ProxyMetrics, RouteMetrics } from "../metrics/metrics";
import { endpointKey, type Endpoint } from "../route/resolver";
import { outboundTlsLabels, type TlsSeam } from "../tls/seam";
import { forwardHeaders, grpcStatusOf, isGrpc } from "./headers";
import { http2Module, NGHTTP2_CANCEL, NGHTTP2_NO_ERROR } from "./lazy";

const END_STREAM = 0x1;

export interface H2Env {
  readonly direction: Direction;
  readonly connectTimeoutMs: number;
  readonly tls: TlsSeam;
  readonly metrics: ProxyMetrics;
  readonly log: Logger;
}

interface PooledSession {
  readonly session: http2.ClientHttp2Session;
  error: Error | undefined;
  /** Settles when the session connects, or rejects when it closes first. */
  readonly connected: Promise<void>;
}

/** Client sessions, one per endpoint; retired on GOAWAY, error or close. */
export class H2Pool {
  private readonly sessions = new Map<string, PooledSession>();

  constructor(private readonly env: H2Env) {}

  get(endpoint: Endpoint): PooledSession {
    // Keyed with the identity too: an endpoint that becomes meshed gets a new, mTLS session.
    const key = `${endpointKey(endpoint)}|${this.env.tls.outbound.peerIdentity(endpoint) ?? ""}`;
    const cur = this.sessions.get(key);
    if (cur !== undefined && !cur.session.closed && !cur.session.destroyed) return cur;
    const pooled = this.connect(endpoint, key);
    this.sessions.set(key, pooled);
    return pooled;
  }

  /** The pooled session of `endpoint` once connected; rejects when connecting fails. */
  async ready(endpoint: Endpoint): Promise<PooledSession> {
    const pooled = this.get(endpoint);
    await pooled.connected;
    return pooled;
  }

  closeAll(): void {
    for (const p of this.sessions.values()) p.session.close();
    this.sessions.clear();
  }

  destroyAll(): void {
    for (const p of this.sessions.values()) p.session.destroy();
    this.sessions.clear();
  }

  private connect(endpoint: Endpoint, key: string): PooledSession {
    const env = this.env;
    const identity = env.tls.outbound.peerIdentity(endpoint);
    const raw = net.connect({ host: endpoint.address, port: endpoint.port });
    raw.setNoDelay(true);
    const socket =
      identity === undefined
        ? raw
        : env.tls.outbound.originate(raw, identity, ["h2"], endpoint.address);
    const tcp = env.metrics.tcp(
      env.direction,
      "dst",
      endpointKey(endpoint),
      outboundTlsLabels(env.tls, identity),
      socket,
    );
    let sockErr: Error | undefined;
    socket.on("error", (e) => (sockErr = e));
    socket.on("close", () => tcp.closed(socket.bytesRead, socket.bytesWritten, errnoOf(sockErr)));
    const session = http2Module().connect(`http://${endpointKey(endpoint)}`, {
      createConnection: () => socket,
    });
    const pooled: PooledSession = {
      session,
      error: undefined,
      connected: new Promise((resolve, reject) => {
        session.once("connect", () => resolve());
        session.once("close", () =>
          reject(upstreamError(pooled.error ?? new ProxyError("WEFT_ERR_UPSTREAM_CLOSED"))),
        );
      }),
    };
    // Only the route layer waits on it; a session that never connects is not an unhandled error.
    pooled.connected.catch(() => undefined);
    const retire = (): void => {
      if (this.sessions.get(key) === pooled) this.sessions.delete(key);
    };
    const timer = setTimeout(
      () => session.destroy(new ProxyError("WEFT_ERR_CONNECT_TIMEOUT")),
      env.connectTimeoutMs,
    );
    session.once("connect", () => clearTimeout(timer));
    session.on("error", (e) => {
      pooled.error = e;
      retire();
    });
    session.on("goaway", retire);
    session.on("close", () => {
      clearTimeout(timer);
      retire();
    });
    return pooled;
  }
}

/** One downstream stream forwarded to one upstream stream. */
class StreamForward {
  private responded = false;
  private status = 0;
  private responseHeaders: http2.IncomingHttpHeaders | undefined;
  private trailers: http2.IncomingHttpHeaders | undefined;
  private upstream: http2.ClientHttp2Stream | undefined;
  private upstreamErr: Error | undefined;
  private readonly start = performance.now();
  private readonly grpc: boolean;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly headers: http2.IncomingHttpHeaders,
    private readonly route: RouteMetrics,
    private readonly log: Logger,
  ) {
    this.grpc = isGrpc(headers);
    route.request();
    stream.on("error", () => undefined);
    stream.on("close", () => this.onDownstreamClose());
  }

  forward(endpoint: Endpoint | ProxyError, pool: H2Pool, endStream: boolean): void {
    if (this.stream.destroyed || this.stream.closed) return;
    if (endpoint instanceof ProxyError) this.fail(endpoint);
    else this.send(pool.get(endpoint), endStream);
  }

  send(pooled: PooledSession, endStream: boolean): void {
    let up: http2.ClientHttp2Stream;
    try {
      up = pooled.session.request(forwardHeaders(this.headers), { endStream });
    } catch (err) {
      this.fail(upstreamError(pooled.error ?? err));
      return;
    }
    this.upstream = up;
    up.on("response", (h, flags) => this.onResponse(h, flags));
    up.on("trailers", (t) => (this.trailers = t));
    up.on("error", (e) => (this.upstreamErr = e));
    up.on("close", () => this.onUpstreamClose(pooled));
    if (!endStream) this.stream.pipe(up);
  }

  private onResponse(
    h: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader,
    flags: number,
  ): void {
    if (this.stream.destroyed || this.stream.closed) return;
    this.responded = true;
    this.status = Number(h[":status"] ?? 0);
    this.responseHeaders = h;
    const up = this.upstream as http2.ClientHttp2Stream;
    sendResponse(this.stream, up, h, (flags & END_STREAM) !== 0, () => this.trailers);
  }

  private onUpstreamClose(pooled: PooledSession): void {
    const up = this.upstream as http2.ClientHttp2Stream;
    if (!this.responded) {
      this.fail(
        upstreamError(
          pooled.error ?? causeOf(this.upstreamErr) ?? new ProxyError("WEFT_ERR_UPSTREAM_RESET"),
        ),
      );
      return;
    }
    const code = up.rstCode ?? NGHTTP2_NO_ERROR;
    if (code !== NGHTTP2_NO_ERROR && !this.stream.closed) this.stream.close(code);
    const grpcStatus = this.grpc ? grpcStatusOf(this.trailers, this.responseHeaders) : -1;
    this.route.response(
      this.status,
      grpcStatus,
      code !== NGHTTP2_NO_ERROR ? "reset" : "",
      performance.now() - this.start,
    );
  }

  private onDownstreamClose(): void {
    const up = this.upstream;
    if (up === undefined || up.closed) return;
    const code = this.stream.rstCode;
    up.close(code === undefined || code === NGHTTP2_NO_ERROR ? NGHTTP2_CANCEL : code);
  }

  fail(err: ProxyError): void {
    if (this.log.debugOn) this.log.debug("h2 proxy error", { code: err.code, error: err.message });
    this.route.response(
      this.grpc ? 200 : err.status,
      this.grpc ? err.grpcStatus : -1,
      err.label,
      performance.now() - this.start,
    );
    if (this.stream.destroyed || this.stream.closed || this.stream.headersSent) {
      this.stream.close(NGHTTP2_CANCEL);
      return;
    }
    respondError(this.stream, err, this.grpc);
  }
}

/**
 * Sends an upstream response down: its head (END_STREAM kept), then the body with flow control,
 * then its trailers; a reset on either side resets the other.
 */
export function relayResponse(
  down: http2.ServerHttp2Stream,
  up: http2.ClientHttp2Stream,
  head: http2.IncomingHttpHeaders,
  endStream: boolean,
  trailers: () => http2.IncomingHttpHeaders | undefined,
): void {
  down.once("close", () => {
    if (up.closed) return;
    const code = down.rstCode;
    up.close(code === undefined || code === NGHTTP2_NO_ERROR ? NGHTTP2_CANCEL : code);
  });
  up.once("close", () => {
    const code = up.rstCode ?? NGHTTP2_NO_ERROR;
    if (code !== NGHTTP2_NO_ERROR && !down.closed) down.close(code);
  });
  sendResponse(down, up, head, endStream, trailers);
}

/** The response head (END_STREAM kept), then the body with flow control, then the trailers. */
function sendResponse(
  down: http2.ServerHttp2Stream,
  up: http2.ClientHttp2Stream,
  head: http2.IncomingHttpHeaders,
  endStream: boolean,
  trailers: () => http2.IncomingHttpHeaders | undefined,
): void {
  const respond = (): void =>
    down.respond(forwardHeaders(head), { endStream, waitForTrailers: !endStream });
  if (!guard(down, respond) || endStream) return;
  down.on("wantTrailers", () =>
    guard(down, () => down.sendTrailers(forwardHeaders(trailers() ?? {}))),
  );
  up.pipe(down);
}

/** Runs a write that throws if the peer closed the stream meanwhile; resets the stream then. */
function guard(stream: http2.Http2Stream, write: () => void): boolean {
  try {
    write();
    return true;
  } catch {
    if (!stream.destroyed) stream.close(NGHTTP2_CANCEL);
    return false;
  }
}

function causeOf(err: Error | undefined): Error | undefined {
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  return cause instanceof Error ? cause : err;
}

/** What a proxy-generated answer says: the HTTP status, or for gRPC clients the grpc-status. */
export interface ProxyAnswer {
  readonly status: number;
  readonly grpcStatus: number;
  readonly message: string;
}

/** A proxy-generated error: HTTP status with l5d-proxy-error, or for gRPC a trailers-only status. */
export function respondError(
  stream: http2.ServerHttp2Stream,
  err: ProxyAnswer,
  grpc: boolean,
): void {
  const reason = sanitize(err.message);
  if (grpc) {
    stream.respond(
      {
        ":status": 200,
        "content-type": "application/grpc",
        "grpc-status": String(err.grpcStatus),
        "grpc-message": encodeURIComponent(reason),
        "l5d-proxy-error": reason,
      },
      { endStream: true },
    );
    return;
  }
  stream.respond({
    ":status": err.status,
    "content-type": "text/plain",
    "l5d-proxy-error": reason,
  });
  stream.end(`${reason}\n`);
}

/** Takes over one accepted stream (e.g. the route layer: retries, timeouts, balancing). */
export type StreamHandler = (
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  endStream: boolean,
) => void;

/**
 * Serves one detected HTTP/2 connection. Returns the session so a drain can send GOAWAY.
 * Streams go to `handler` when given, else to `endpoint` or to what `perRequest` resolves.
 */
export function serveH2(
  socket: net.Socket,
  initial: Buffer,
  endpoint: Endpoint | ProxyError,
  scope: HttpScope,
  pool: H2Pool,
  log: Logger,
  perRequest?: (authority: string) => Promise<Endpoint | ProxyError>,
  handler?: StreamHandler,
): http2.ServerHttp2Session {
  if (initial.length > 0) socket.unshift(initial);
  const session = http2Module().performServerHandshake(socket);
  session.on("error", (e) => log.debug("h2 session error", { error: String(e) }));
  session.on("stream", (stream, headers, flags) => {
    if (handler !== undefined) return handler(stream, headers, (flags & END_STREAM) !== 0);
    const authority = String(headers[":authority"] ?? "");
    const fwd = new StreamForward(stream, headers, scope.route(authority), log);
    const endStream = (flags & END_STREAM) !== 0;
    if (perRequest === undefined) fwd.forward(endpoint, pool, endStream);
    else perRequest(authority).then((ep) => fwd.forward(ep, pool, endStream));
  });
  return session;
}
