// HTTP/2 (h2c prior knowledge, and gRPC) forwarding over our own HTTP/2 sessions (session.ts).
// Each accepted connection is a server session; each of its streams goes out on a client session
// pooled per endpoint. Bodies stream both ways under HTTP/2 flow control, trailers are relayed, a
// reset on either side resets the other, and an upstream GOAWAY retires its session from the pool
// while its streams finish.

import * as net from "node:net";
import * as tls from "node:tls";
import { performance } from "node:perf_hooks";
import { ProxyError, errnoOf, sanitize, upstreamError } from "../errors";
import type { Logger } from "../log";
import type { Direction, HttpScope, ProxyMetrics, RouteMetrics } from "../metrics/metrics";
import { endpointKey, type Endpoint } from "../route/resolver";
import { CLIENT_ID_HEADER } from "../tls/inbound-policy";
import { connectWithSlabReads } from "../tcp/reads";
import { outboundTlsLabels, type TlsSeam } from "../tls/seam";
import { RequestBody, UpstreamResponse } from "./body";
import { CANCEL, NO_ERROR, REFUSED_STREAM } from "./frames";
import { forwardHeaders, grpcStatusOf, headerValue, isGrpc, setHeader } from "./headers";
import type { HeaderList } from "./hpack";
import { H2Session, type H2Stream } from "./session";

export interface H2Env {
  readonly direction: Direction;
  readonly connectTimeoutMs: number;
  readonly tls: TlsSeam;
  readonly metrics: ProxyMetrics;
  readonly log: Logger;
}

export interface PooledSession {
  readonly session: H2Session;
  /** Settles when the connection (and its TLS) is up, or rejects when it closes first. */
  readonly connected: Promise<void>;
}

/** Client sessions, one per endpoint; retired on GOAWAY, error or close. */
export class H2Pool {
  private readonly sessions = new Map<string, PooledSession>();
  /** Endpoints are long-lived objects (a fixed target, discovery's sets): their keys are kept. */
  private readonly keys = new WeakMap<Endpoint, { identity: string | undefined; key: string }>();

  constructor(private readonly env: H2Env) {}

  get(endpoint: Endpoint): PooledSession {
    const key = this.keyOf(endpoint);
    const cur = this.sessions.get(key);
    if (cur !== undefined && !cur.session.closed && !cur.session.goingAway) return cur;
    const pooled = this.connect(endpoint, key);
    this.sessions.set(key, pooled);
    return pooled;
  }

  /** Keyed with the identity too: an endpoint that becomes meshed gets a new, mTLS session. */
  private keyOf(endpoint: Endpoint): string {
    const identity = this.env.tls.outbound.peerIdentity(endpoint);
    const known = this.keys.get(endpoint);
    if (known !== undefined && known.identity === identity) return known.key;
    const key = `${endpointKey(endpoint)}|${identity ?? ""}`;
    this.keys.set(endpoint, { identity, key });
    return key;
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
    const raw =
      identity === undefined
        ? connectWithSlabReads(endpoint.address, endpoint.port)
        : net.connect({ host: endpoint.address, port: endpoint.port });
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
    const session = new H2Session(socket, "client");
    const timer = setTimeout(
      () => session.destroy(new ProxyError("WEFT_ERR_CONNECT_TIMEOUT")),
      this.env.connectTimeoutMs,
    );
    const connected = new Promise<void>((resolve, reject) => {
      socket.once(socket instanceof tls.TLSSocket ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        resolve();
      });
      session.onClose = () => {
        clearTimeout(timer);
        retire();
        reject(upstreamError(session.error ?? new ProxyError("WEFT_ERR_UPSTREAM_CLOSED")));
      };
    });
    // Only the route layer waits on it; a session that never connects is not an unhandled error.
    connected.catch(() => undefined);
    const pooled: PooledSession = { session, connected };
    const retire = (): void => {
      if (this.sessions.get(key) === pooled) this.sessions.delete(key);
    };
    session.onGoaway = retire;
    return pooled;
  }
}

/** One downstream stream forwarded to one upstream stream, without the route layer. */
class StreamForward {
  private status = 0;
  private response: UpstreamResponse | undefined;
  private readonly start = performance.now();
  private readonly grpc: boolean;
  private readonly body: RequestBody;
  private endpoint: Endpoint | undefined;
  private pool: H2Pool | undefined;
  private attempts = 0;

  constructor(
    private readonly stream: H2Stream,
    private readonly headers: HeaderList,
    endStream: boolean,
    private readonly route: RouteMetrics,
    private readonly log: Logger,
  ) {
    this.grpc = isGrpc(headers);
    // Kept up to 64 KiB, as on the route path: a refused stream is sent again.
    this.body = new RequestBody(stream, endStream);
    route.request();
  }

  forward(endpoint: Endpoint | ProxyError, pool: H2Pool): void {
    if (this.stream.closed) return;
    if (endpoint instanceof ProxyError) return this.fail(endpoint);
    this.endpoint = endpoint;
    this.pool = pool;
    const pooled = pool.get(endpoint);
    let up: H2Stream;
    try {
      up = pooled.session.request(forwardHeaders(this.headers), this.body.empty);
    } catch (err) {
      return this.fail(upstreamError(err));
    }
    up.onHead = (head, end) => this.onResponse(up, head, end);
    up.onClose = (code) => this.onUpstreamClose(up, code);
    this.stream.onClose = () => {
      if (!up.closed) up.reset(CANCEL);
    };
    this.body.attach(up);
  }

  private onResponse(up: H2Stream, head: HeaderList, endStream: boolean): void {
    this.status = Number(headerValue(head, ":status") ?? 0);
    const response = new UpstreamResponse(up, head, endStream);
    this.response = response;
    response.onClose = (code) => this.finished(code);
    response.relayTo(this.stream);
  }

  /** Before a response head: the upstream failed the request, or refused it (sent again). */
  private onUpstreamClose(up: H2Stream, code: number): void {
    if (this.response !== undefined) return;
    const err = upstreamError(up.sessionError ?? streamClosedError(code));
    this.body.detach();
    if (isRefused(err) && this.body.intact && ++this.attempts < REFUSED_ATTEMPTS)
      return this.forward(this.endpoint as Endpoint, this.pool as H2Pool);
    this.fail(err);
  }

  private finished(code: number): void {
    const r = this.response as UpstreamResponse;
    const grpcStatus = this.grpc ? grpcStatusOf(r.trailers, r.head) : -1;
    const error = code !== NO_ERROR ? "reset" : "";
    this.route.response(this.status, grpcStatus, error, performance.now() - this.start);
  }

  fail(err: ProxyError): void {
    if (this.log.debugOn) this.log.debug("h2 proxy error", { code: err.code, error: err.message });
    this.route.response(
      this.grpc ? 200 : err.status,
      this.grpc ? err.grpcStatus : -1,
      err.label,
      performance.now() - this.start,
    );
    if (this.stream.closed) return;
    if (this.stream.headersSent) return this.stream.reset(CANCEL);
    respondError(this.stream, err, this.grpc);
  }
}

/** Streams refused by the upstream are sent this often in all before the client gets 502. */
const REFUSED_ATTEMPTS = 3;

/** Why an upstream stream closed before its response head, when the connection did not fail. */
export function streamClosedError(code: number): ProxyError {
  if (code === REFUSED_STREAM) return new ProxyError("WEFT_ERR_STREAM_REFUSED");
  return new ProxyError("WEFT_ERR_UPSTREAM_RESET", `stream reset with code ${code}`);
}

export function isRefused(err: unknown): boolean {
  return err instanceof ProxyError && err.code === "WEFT_ERR_STREAM_REFUSED";
}

/** What a proxy-generated answer says: the HTTP status, or for gRPC clients the grpc-status. */
export interface ProxyAnswer {
  readonly status: number;
  readonly grpcStatus: number;
  readonly message: string;
}

/** A proxy-generated error: HTTP status with l5d-proxy-error, or for gRPC a trailers-only status. */
export function respondError(stream: H2Stream, err: ProxyAnswer, grpc: boolean): void {
  const reason = sanitize(err.message);
  // The request body, if any is still coming, has nowhere to go: consumed, and once the answer
  // is out the client is told to stop.
  if (!stream.remoteEnded) {
    stream.onData = (chunk) => stream.consume(chunk.length);
    stream.endRequestWithResponse();
  }
  if (grpc) {
    stream.sendHeaders(
      [
        ":status", "200",
        "content-type", "application/grpc",
        "grpc-status", String(err.grpcStatus),
        "grpc-message", encodeURIComponent(reason),
        "l5d-proxy-error", reason,
      ], // prettier-ignore
      true,
    );
    return;
  }
  stream.sendHeaders(
    [":status", String(err.status), "content-type", "text/plain", "l5d-proxy-error", reason],
    false,
  );
  stream.sendData(Buffer.from(`${reason}\n`), true, 0);
}

/** Takes over one accepted stream (e.g. the route layer: retries, timeouts, balancing). */
export type StreamHandler = (stream: H2Stream, headers: HeaderList, endStream: boolean) => void;

export interface ServeH2 {
  /** Where streams go without a handler: the connection's endpoint, or what `perRequest` says. */
  readonly endpoint: Endpoint | ProxyError;
  readonly scope: HttpScope;
  readonly pool: H2Pool;
  readonly log: Logger;
  readonly perRequest?: (authority: string) => Promise<Endpoint | ProxyError>;
  readonly handler?: StreamHandler;
  /**
   * Inbound: every request's l5d-client-id is replaced by the verified client identity (removed
   * when there is none); undefined leaves the header alone (outbound).
   */
  readonly clientId?: { readonly value: string | undefined };
}

/** Serves one detected HTTP/2 connection. Returns the session so a drain can send GOAWAY. */
export function serveH2(socket: net.Socket, initial: Buffer, serve: ServeH2): H2Session {
  const onStream = (stream: H2Stream, headers: HeaderList, endStream: boolean): void => {
    if (serve.clientId !== undefined) setHeader(headers, CLIENT_ID_HEADER, serve.clientId.value);
    if (serve.handler !== undefined) return serve.handler(stream, headers, endStream);
    const authority = headerValue(headers, ":authority") ?? "";
    const fwd = new StreamForward(
      stream,
      headers,
      endStream,
      serve.scope.route(authority),
      serve.log,
    );
    if (serve.perRequest === undefined) return fwd.forward(serve.endpoint, serve.pool);
    void serve.perRequest(authority).then((ep) => fwd.forward(ep, serve.pool));
  };
  const session = new H2Session(socket, "server", { onStream }, initial);
  session.onClose = () => {
    if (session.error !== undefined && serve.log.debugOn)
      serve.log.debug("h2 session error", { error: String(session.error) });
  };
  return session;
}
