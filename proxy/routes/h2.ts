/**
 * Outbound HTTP/2 and gRPC through the route layer, as HTTP/1 goes through OutboundHttp1: each
 * stream is matched to its profile route and run by routeRequest (timeout, retries within the
 * budget, classification, route metrics); each attempt opens an upstream stream on the pooled
 * session of an endpoint its backend's P2C balancer picked. The request body streams to the
 * attempt and is kept (up to 64 KiB) so a retry can send it again.
 */
import { upstreamError } from "../errors";
import type { Slot } from "../balance/p2c";
import type { DiscoveredEndpoint } from "../discovery/state";
import { RequestBody, UpstreamResponse } from "../http2/body";
import { CANCEL, NO_ERROR } from "../http2/frames";
import { forwardHeaders, grpcStatusOf, headerValue, isGrpc } from "../http2/headers";
import type { HeaderList } from "../http2/hpack";
import {
  isRefused,
  respondError,
  streamClosedError,
  type H2Pool,
  type StreamHandler,
} from "../http2/proxy";
import type { H2Session, H2Stream } from "../http2/session";
import {
  CONNECT_ATTEMPTS,
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

export interface H2Attempt extends AttemptResponse {
  readonly response: UpstreamResponse;
  readonly endpoint: DiscoveredEndpoint;
  final: Promise<FinalOutcome>;
}

/** One downstream stream on its way through the route. */
interface H2Request {
  readonly stream: H2Stream;
  readonly headers: HeaderList;
  readonly body: RequestBody;
  readonly grpc: boolean;
  /** Wait for the first frame after the head, so a gRPC status in trailers can be retried on. */
  peek: boolean;
  /** The attempt's upstream stream until a response is chosen: cancelled if the client leaves. */
  current: H2Stream | undefined;
}

export interface OutboundH2Options {
  services: LogicalServices;
  /** The proxy's TLS seam and metrics: request_total/response_total by endpoint, as HTTP/1. */
  proxy?: ProxyHooks;
}

/** The grpc-status of a gRPC response (trailers first, then a trailers-only head). */
function grpcStatus(req: H2Request, ...sources: (HeaderList | undefined)[]): number | undefined {
  if (!req.grpc) return undefined;
  const s = grpcStatusOf(...sources);
  return s < 0 ? undefined : s;
}

/** What a route is matched on: the method and the path without its query. */
function requestHead(headers: HeaderList): RequestHead {
  return {
    method: headerValue(headers, ":method") ?? "GET",
    path: (headerValue(headers, ":path") ?? "/").split("?")[0],
  };
}

export class OutboundH2 {
  constructor(private readonly options: OutboundH2Options) {}

  /** The stream handler of one accepted connection: its original destination and client pool. */
  handler(dst: OriginalDst, pool: H2Pool): StreamHandler {
    return (stream, headers, endStream) => void this.handle(stream, headers, endStream, dst, pool);
  }

  async handle(
    stream: H2Stream,
    headers: HeaderList,
    endStream: boolean,
    dst: OriginalDst,
    pool: H2Pool,
  ): Promise<void> {
    const started = performance.now();
    const req: H2Request = {
      stream,
      headers,
      body: new RequestBody(stream, endStream),
      grpc: isGrpc(headers),
      peek: false,
      current: undefined,
    };
    stream.onClose = () => {
      const up = req.current;
      if (up !== undefined && !up.closed) up.reset(CANCEL);
    };
    const authority = headerValue(headers, ":authority") ?? headerValue(headers, "host") ?? "";
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
    if (stream.closed) return a.discard();
    a.response.relayTo(stream);
  }

  private fail(req: H2Request, e: ProxyErrorResponse): void {
    const s = req.stream;
    if (s.closed) return;
    if (s.headersSent) return s.reset(CANCEL);
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
      let session: H2Session;
      try {
        session = (await pool.ready(slot.endpoint)).session;
      } catch (err) {
        backend.balancer.connectFailed(slot);
        if (i >= CONNECT_ATTEMPTS || signal.aborted) throw err;
        continue;
      }
      backend.balancer.connected(slot);
      try {
        return await this.exchange(backend, slot, session, req, signal);
      } catch (err) {
        // A refused stream was not processed: it goes again, as a failed connect does.
        if (!isRefused(err) || i >= CONNECT_ATTEMPTS || signal.aborted || !req.body.intact)
          throw err;
      }
    }
  }

  private exchange(
    backend: Backend,
    slot: Slot<DiscoveredEndpoint>,
    session: H2Session,
    req: H2Request,
    signal: AbortSignal,
  ): Promise<H2Attempt> {
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    if (req.stream.closed) return Promise.reject(new Error("the client closed the stream"));
    let up: H2Stream;
    try {
      up = session.request(forwardHeaders(req.headers), req.body.empty);
    } catch (err) {
      return Promise.reject(upstreamError(err));
    }
    const inflight = backend.balancer.begin(slot);
    req.current = up;
    req.body.attach(up);
    return new Promise((resolve, reject) => {
      const cancel = (): void => {
        if (!up.closed) up.reset(CANCEL);
      };
      signal.addEventListener("abort", cancel, { once: true });
      up.onClose = (code) => {
        signal.removeEventListener("abort", cancel);
        if (req.current === up) req.current = undefined;
        inflight.end();
        req.body.detach();
        reject(upstreamError(up.sessionError ?? streamClosedError(code)));
      };
      up.onHead = (head, endStream) => {
        // Load is measured to the response head: a long stream does not weigh on its endpoint
        // for its whole life (linkerd2-proxy likewise stops at the first response frame).
        inflight.end();
        const response = new UpstreamResponse(up, head, endStream);
        const status = Number(headerValue(head, ":status") ?? 0);
        const final = new Promise<FinalOutcome>((done) => {
          response.onClose = (code) => {
            signal.removeEventListener("abort", cancel);
            done({
              status,
              grpcStatus: grpcStatus(req, response.trailers, head),
              ...(code !== NO_ERROR ? { error: "reset" } : {}),
            });
          };
        });
        const attempt = (): H2Attempt => ({
          response,
          endpoint: slot.endpoint,
          status,
          grpcStatus: grpcStatus(req, response.trailers, head),
          final,
          discard: () => {
            req.body.detach();
            response.discard();
          },
        });
        // Until the attempt is chosen, a client that leaves still cancels the upstream stream.
        const chosen = (): void => {
          if (req.current === up) req.current = undefined;
          resolve(attempt());
        };
        if (!req.peek || response.framed) return chosen();
        response.onFirstFrame = chosen;
      };
    });
  }
}
