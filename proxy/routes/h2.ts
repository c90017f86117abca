/**
 * Outbound HTTP/2 and gRPC through the route layer, as HTTP/1 goes through OutboundHttp1: each
 * stream is matched to its profile route and run by routeRequest (timeout, retries within the
 * budget, classification, route metrics); each attempt opens an upstream stream on the pooled
 * session of an endpoint its backend's P2C balancer picked. The request body streams to the
 * attempt and is kept (up to 64 KiB) so a retry can send it again.
 */
import type * as http2 from "node:http2";
import { upstreamError, ProxyError } from "../errors";
import type { Slot } from "../balance/p2c";
import type { DiscoveredEndpoint } from "../discovery/state";
import { forwardHeaders, grpcStatusOf, isGrpc } from "../http2/headers";
import { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR } from "../http2/lazy";
import { relayResponse, respondError, type H2Pool, type StreamHandler } from "../http2/proxy";
import {
  routeRequest,
  type AttemptResponse,
  type FinalOutcome,
  type ProxyErrorResponse,
  type Routed,
} from "./execute";
import {
  endpointMetrics,
  type Backend,
  type LogicalService,
  type LogicalServices,
  type OriginalDst,
  type ProxyHooks,
} from "./logical";
import type { RequestHead } from "./profile";
import { ReplayBody } from "./replay";

const END_STREAM = 0x1;
/** Connect failures move to another endpoint within one attempt, at most this often. */
const CONNECT_ATTEMPTS = 3;

type ResponseHeaders = http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader;

export interface H2Attempt extends AttemptResponse {
  readonly upstream: http2.ClientHttp2Stream;
  readonly head: ResponseHeaders;
  /** The response head carried END_STREAM (trailers-only for gRPC). */
  readonly endStream: boolean;
  readonly endpoint: DiscoveredEndpoint;
  trailers(): http2.IncomingHttpHeaders | undefined;
  final: Promise<FinalOutcome>;
}

/** One downstream stream on its way through the route. */
interface H2Request {
  readonly stream: http2.ServerHttp2Stream;
  readonly headers: http2.IncomingHttpHeaders;
  readonly body: ReplayBody;
  readonly grpc: boolean;
  /** Wait for the first frame after the head, so a gRPC status in trailers can be retried on. */
  peek: boolean;
}

export interface OutboundH2Options {
  services: LogicalServices;
  /** The proxy's TLS seam and metrics: request_total/response_total by endpoint, as HTTP/1. */
  proxy?: ProxyHooks;
}

/** The grpc-status of a gRPC response (trailers first, then a trailers-only head). */
function grpcStatus(
  req: H2Request,
  ...sources: (http2.IncomingHttpHeaders | undefined)[]
): number | undefined {
  if (!req.grpc) return undefined;
  const s = grpcStatusOf(...sources);
  return s < 0 ? undefined : s;
}

/** What a route is matched on: the method and the path without its query. */
function requestHead(headers: http2.IncomingHttpHeaders): RequestHead {
  return {
    method: String(headers[":method"] ?? "GET"),
    path: String(headers[":path"] ?? "/").split("?")[0],
  };
}

/** Resolves once the upstream's first body frame, trailers or end arrived (the frame stays unread). */
function peekFirstFrame(up: http2.ClientHttp2Stream): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      up.off("data", onData);
      up.off("trailers", done);
      up.off("end", done);
      up.off("close", done);
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      up.pause();
      up.unshift(chunk);
      done();
    };
    up.on("data", onData);
    up.once("trailers", done);
    up.once("end", done);
    up.once("close", done);
  });
}

export class OutboundH2 {
  constructor(private readonly options: OutboundH2Options) {}

  /** The stream handler of one accepted connection: its original destination and client pool. */
  handler(dst: OriginalDst, pool: H2Pool): StreamHandler {
    return (stream, headers, endStream) => void this.handle(stream, headers, endStream, dst, pool);
  }

  async handle(
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    endStream: boolean,
    dst: OriginalDst,
    pool: H2Pool,
  ): Promise<void> {
    const started = performance.now();
    stream.on("error", () => undefined);
    const req: H2Request = {
      stream,
      headers,
      body: new ReplayBody(stream, endStream),
      grpc: isGrpc(headers),
      peek: false,
    };
    const authority = String(headers[":authority"] ?? headers.host ?? "");
    const svc = this.options.services.get(authority || undefined, dst);
    const route = await svc.route(requestHead(headers), this.options.services.profileTimeoutMs);
    req.peek = req.grpc && route.isRetryable;
    const routed = await routeRequest<H2Attempt>({
      route,
      budget: svc.budget,
      metrics: svc.scope(route.name),
      // A client that went away is not retried for; a body still streaming cannot be replayed.
      replayable: () => req.body.complete && !stream.closed,
      send: (signal) => this.attempt(svc, req, pool, signal, started),
    });
    this.record(authority, dst, req, routed, started);
    if (routed.kind === "error") return this.fail(req, routed.error);
    const a = routed.response;
    req.body.settle();
    if (stream.closed || stream.destroyed) return a.discard();
    relayResponse(stream, a.upstream, a.head, a.endStream, () => a.trailers());
  }

  private fail(req: H2Request, e: ProxyErrorResponse): void {
    const s = req.stream;
    if (s.closed || s.destroyed) return;
    if (s.headersSent) return void s.close(NGHTTP2_CANCEL);
    respondError(s, e, req.grpc);
  }

  /** request_total/response_total by endpoint and its identity; gRPC errors count as 200 + grpc-status. */
  private record(
    authority: string,
    dst: OriginalDst,
    req: H2Request,
    routed: Routed<H2Attempt>,
    started: number,
  ): void {
    const proxy = this.options.proxy;
    if (proxy === undefined) return;
    const ep = routed.kind === "response" ? routed.response.endpoint : undefined;
    const metrics = endpointMetrics(proxy, authority, dst, ep);
    metrics.request();
    const ms = performance.now() - started;
    if (routed.kind === "error") {
      const e = routed.error;
      metrics.response(req.grpc ? 200 : e.status, req.grpc ? e.grpcStatus : -1, e.error, ms);
      return;
    }
    void routed.response.final.then((f) =>
      metrics.response(f.status, f.grpcStatus ?? -1, f.error ?? "", ms),
    );
  }

  /** One attempt: a balanced endpoint whose session connects (else the next one), then the exchange. */
  private async attempt(
    svc: LogicalService,
    req: H2Request,
    pool: H2Pool,
    signal: AbortSignal,
    startedAt: number,
  ): Promise<H2Attempt> {
    const backend = svc.pickBackend();
    for (let i = 1; ; i++) {
      const slot = await backend.balancer.acquire(startedAt);
      let session: http2.ClientHttp2Session;
      try {
        session = (await pool.ready(slot.endpoint)).session;
      } catch (err) {
        backend.balancer.connectFailed(slot);
        if (i >= CONNECT_ATTEMPTS || signal.aborted) throw err;
        continue;
      }
      backend.balancer.connected(slot);
      return this.exchange(backend, slot, session, req, signal);
    }
  }

  private exchange(
    backend: Backend,
    slot: Slot<DiscoveredEndpoint>,
    session: http2.ClientHttp2Session,
    req: H2Request,
    signal: AbortSignal,
  ): Promise<H2Attempt> {
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    if (req.stream.closed) return Promise.reject(new Error("the client closed the stream"));
    let up: http2.ClientHttp2Stream;
    try {
      up = session.request(forwardHeaders(req.headers), { endStream: req.body.empty });
    } catch (err) {
      return Promise.reject(upstreamError(err));
    }
    const inflight = backend.balancer.begin(slot);
    req.body.attach(up);
    return new Promise((resolve, reject) => {
      let upErr: Error | undefined;
      let trailers: http2.IncomingHttpHeaders | undefined;
      let responded = false;
      const cancel = (): void => {
        if (!up.closed) up.close(NGHTTP2_CANCEL);
      };
      signal.addEventListener("abort", cancel, { once: true });
      req.stream.once("close", cancel);
      up.on("error", (e) => (upErr = e));
      up.on("trailers", (t) => (trailers = t));
      up.once("close", () => {
        signal.removeEventListener("abort", cancel);
        req.stream.off("close", cancel);
        if (responded) return;
        inflight.end();
        req.body.detach();
        reject(upstreamError(causeOf(upErr) ?? new ProxyError("WEFT_ERR_UPSTREAM_RESET")));
      });
      up.once("response", (head: ResponseHeaders, flags: number) => {
        responded = true;
        // Load is measured to the response head: a long stream does not weigh on its endpoint
        // for its whole life (linkerd2-proxy likewise stops at the first response frame).
        inflight.end();
        req.stream.off("close", cancel);
        const endStream = (flags & END_STREAM) !== 0;
        const status = Number(head[":status"] ?? 0);
        const final = new Promise<FinalOutcome>((done) =>
          up.once("close", () => {
            const code = up.rstCode ?? NGHTTP2_NO_ERROR;
            done({
              status,
              grpcStatus: grpcStatus(req, trailers, head),
              ...(code !== NGHTTP2_NO_ERROR ? { error: "reset" } : {}),
            });
          }),
        );
        const attempt = (): H2Attempt => ({
          upstream: up,
          head,
          endStream,
          endpoint: slot.endpoint,
          status,
          grpcStatus: grpcStatus(req, trailers, head),
          trailers: () => trailers,
          final,
          discard: () => {
            req.body.detach();
            if (!up.closed) up.close(NGHTTP2_CANCEL);
          },
        });
        if (endStream || !req.peek) return resolve(attempt());
        void peekFirstFrame(up).then(() => resolve(attempt()));
      });
    });
  }
}

function causeOf(err: Error | undefined): Error | undefined {
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  return cause instanceof Error ? cause : err;
}
