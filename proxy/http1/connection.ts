// One client HTTP/1.x connection. Requests are handled one at a time: the head is parsed, sent to a
// pooled upstream connection (verbatim when no hop-by-hop field needs removing), and the bodies in
// both directions are forwarded as raw bytes while their framing is tracked, with backpressure
// each way. Pipelined requests wait (socket paused) until the response before them is complete.

import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { ProxyError, http1ErrorResponse, upstreamError } from "../errors";
import type { Logger } from "../log";
import type { HttpScope, RouteMetrics } from "../metrics/metrics";
import { endpointKey, type Endpoint } from "../route/resolver";
import { tunnel } from "../tcp/pipe";
import { BodyFramer, requestFraming, responseFraming } from "./body";
import { clientIdRewriteNeeded, withClientId, type InboundPeer } from "./client-id";
import { REPLAY_LIMIT, type Attempt, type Exchange, type RequestRouter } from "./exchange";
import { HeadError, HeadReader, parseHead, type Head } from "./head";
import {
  clientKeepAlive,
  rewriteRequestHead,
  rewriteResponseHead,
  upstreamReusable,
  wantsUpgrade,
} from "./hop";
import type { Http1Pool, Upstream, UpstreamOwner } from "./pool";

export type { RequestResolver, RequestRouter } from "./exchange";

export interface Http1Env {
  readonly pool: Http1Pool;
  readonly log: Logger;
  readonly maxHeadBytes: number;
  /** Closes a keep-alive client connection idle this long between requests, ms; 0: never. */
  readonly idleTimeoutMs?: number;
}

const REQ_HEAD = 0;
const REQ_BODY = 1;
const REQ_DONE = 2;
const TUNNEL = 3;
const CLOSED = 4;

const RES_NONE = 0;
const RES_HEAD = 1;
const RES_BODY = 2;
const RES_DONE = 3;

/** What sending a request needs once its upstream connection arrives. */
interface Parked {
  /** The head (up to `end`) and what came after it; client bytes read meanwhile are appended. */
  whole: Buffer;
  readonly end: number;
  readonly verbatim: boolean;
  /** A stale pooled connection's request sent again: only the head. */
  readonly retry: boolean;
}

function slice(chunk: Buffer, from: number, stop: number): Buffer {
  return from === 0 && stop === chunk.length ? chunk : chunk.subarray(from, stop);
}

export class Http1Connection implements UpstreamOwner {
  private readonly reqReader: HeadReader;
  private readonly resReader: HeadReader;
  private readonly reqBody = new BodyFramer();
  private readonly resBody = new BodyFramer();
  private reqState = REQ_HEAD;
  private resState = RES_NONE;
  private req: Head | null = null;
  private res: Head | null = null;
  /** The request head as sent upstream, kept to retry once on a stale pooled connection. */
  private sentHead: Buffer | string = "";
  private upstream: Upstream | null = null;
  private pending: Buffer | null = null;
  /** A request waiting for an upstream connection (the pool had none to give yet). */
  private parked: Parked | null = null;
  private keepAlive = true;
  private draining = false;
  private route: RouteMetrics | null = null;
  /** The route layer's exchange of the current request, until its response head is forwarded. */
  private exchange: Exchange | null = null;
  /** Bumped when a request's pending route or attempt lookups no longer matter. */
  private generation = 0;
  private attempts = 0;
  /** The body bytes sent so far, while they fit in REPLAY_LIMIT (null: not kept). */
  private replay: Buffer[] | null = null;
  private replayBytes = 0;
  private deadline: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private readonly onData = (chunk: Buffer): void => this.onClientData(chunk);
  /** Inbound only: the peer whose identity requests carry as l5d-client-id. */
  inbound: InboundPeer | null = null;
  /** The pool key of the endpoint, computed once per endpoint. */
  private key: string;

  constructor(
    readonly socket: Socket,
    private readonly env: Http1Env,
    private endpoint: Endpoint | ProxyError,
    /** Null when the router records request metrics itself (by the endpoint each one reached). */
    private readonly scope: HttpScope | null,
    private readonly router?: RequestRouter,
  ) {
    this.key = endpoint instanceof ProxyError ? "" : endpointKey(endpoint);
    this.reqReader = new HeadReader(env.maxHeadBytes);
    this.resReader = new HeadReader(env.maxHeadBytes);
    socket.setNoDelay(true);
    socket.on("end", () => this.onClientEnd());
    socket.on("close", () => this.onClientClose());
    socket.on("drain", () => this.upstream?.socket.resume());
    // The socket's own inactivity timer (refreshed by Node on every read and write) costs nothing
    // per request; it fires after a quiet period, and only an idle connection is closed then.
    if (env.idleTimeoutMs) {
      socket.setTimeout(env.idleTimeoutMs);
      socket.on("timeout", () => this.onIdleTimeout());
    }
  }

  private onIdleTimeout(): void {
    // Already ended by us and the client still has not closed its side: let it go.
    if (this.reqState === CLOSED) this.socket.destroy();
    if (!this.isIdle()) return;
    if (this.env.log.debugOn) this.env.log.debug("closing idle client connection");
    this.close();
  }

  /** Starts serving with the bytes protocol detection already read. */
  start(initial: Buffer): void {
    this.socket.on("data", this.onData);
    if (initial.length > 0) this.onClientData(initial);
    if (this.reqState !== REQ_DONE && this.reqState !== CLOSED) this.socket.resume();
  }

  /** Graceful shutdown: finish the current exchange, then close. */
  drain(): void {
    this.draining = true;
    this.keepAlive = false;
    if (this.isIdle()) this.close();
  }

  isIdle(): boolean {
    return (
      this.reqState === REQ_HEAD && this.resState === RES_NONE && this.reqReader.buffer.length === 0
    );
  }

  private onClientData(chunk: Buffer): void {
    if (this.parked !== null) this.parked.whole = Buffer.concat([this.parked.whole, chunk]);
    else if (this.reqState === REQ_HEAD) this.readRequestHead(chunk);
    else if (this.reqState === REQ_BODY) this.forwardRequestBody(chunk, 0);
    else if (this.reqState === REQ_DONE) this.stash(chunk);
  }

  private readRequestHead(chunk: Buffer): void {
    let end: number;
    let head: Head;
    try {
      end = this.reqReader.push(chunk);
      if (end < 0) return;
      head = parseHead(this.reqReader.text(end), true);
    } catch (err) {
      this.rejectRequest(err);
      return;
    }
    const whole = this.reqReader.buffer;
    this.reqReader.take(end);
    this.startExchange(head, whole, end);
  }

  private rejectRequest(err: unknown): void {
    const tooLarge = err instanceof HeadError && err.detail === "head too large";
    const e = new ProxyError(
      tooLarge ? "WEFT_ERR_HEAD_TOO_LARGE" : "WEFT_ERR_BAD_REQUEST",
      String((err as Error).message),
    );
    if (this.env.log.debugOn) this.env.log.debug("rejecting request", { error: e.message });
    this.socket.end(http1ErrorResponse(e, true));
    this.reqState = CLOSED;
  }

  /** `whole` holds the head (up to `end`) and whatever followed it in the same read. */
  private startExchange(head: Head, whole: Buffer, end: number): void {
    this.req = head;
    this.keepAlive = clientKeepAlive(head) && !this.draining;
    if (this.scope !== null) {
      this.route = this.scope.route(head.host);
      this.route.request();
    }
    this.startedAt = performance.now();
    this.reqBody.reset(requestFraming(head), head.contentLength);
    this.reqState = this.reqBody.done ? REQ_DONE : REQ_BODY;
    this.resState = RES_HEAD;
    if (this.router !== undefined) this.routeThenSend(head, whole, end, this.router);
    else this.dispatchRequest(head, whole, end);
  }

  private dispatchRequest(head: Head, whole: Buffer, end: number): void {
    if (this.endpoint instanceof ProxyError) this.respondError(this.endpoint);
    else this.sendRequest(head, this.endpoint, whole, end);
  }

  /** Holds the request (client paused) while the route layer picks its endpoint, then sends it. */
  private routeThenSend(head: Head, whole: Buffer, end: number, router: RequestRouter): void {
    const headBytes = whole.subarray(0, end);
    if (end < whole.length) this.stash(whole.subarray(end));
    else this.socket.pause();
    this.replay = [];
    this.replayBytes = 0;
    this.attempts = 0;
    const generation = ++this.generation;
    router(head).then(
      (x) => this.onRouted(generation, head, headBytes, x),
      (err: unknown) =>
        this.onRouted(
          generation,
          head,
          headBytes,
          new ProxyError("WEFT_ERR_NO_ROUTE", String(err)),
        ),
    );
  }

  private current(generation: number): boolean {
    return generation === this.generation && this.reqState !== CLOSED && !this.socket.destroyed;
  }

  private onRouted(
    generation: number,
    head: Head,
    headBytes: Buffer,
    x: Exchange | ProxyError,
  ): void {
    if (!this.current(generation)) {
      if (!(x instanceof ProxyError)) x.failed(undefined);
      return;
    }
    if (x instanceof ProxyError) return this.onFirstAttempt(head, headBytes, x);
    this.exchange = x;
    if (x.timeoutMs !== undefined) {
      const left = Math.max(0, x.timeoutMs - (performance.now() - this.startedAt));
      this.deadline = setTimeout(() => this.onDeadline(x.timeoutMs as number), left);
    }
    this.nextAttempt(generation, x, head, headBytes);
  }

  private nextAttempt(generation: number, x: Exchange, head: Head, headBytes: Buffer): void {
    x.next().then(
      (a) => this.onAttempt(generation, head, headBytes, a),
      (err: unknown) =>
        this.onAttempt(
          generation,
          head,
          headBytes,
          new ProxyError("WEFT_ERR_NO_ROUTE", String(err)),
        ),
    );
  }

  private onAttempt(
    generation: number,
    head: Head,
    headBytes: Buffer,
    a: Attempt | ProxyError,
  ): void {
    if (!this.current(generation)) return;
    if (a instanceof ProxyError) return this.failExchange(a);
    this.endpoint = a.endpoint;
    this.key = a.key;
    if (this.attempts++ === 0) this.onFirstAttempt(head, headBytes, a.endpoint);
    else this.resendTo(a.endpoint);
  }

  /** The first attempt sends the head with whatever body bytes arrived meanwhile. */
  private onFirstAttempt(head: Head, headBytes: Buffer, ep: Endpoint | ProxyError): void {
    if (ep !== this.endpoint) this.key = ep instanceof ProxyError ? "" : endpointKey(ep);
    this.endpoint = ep;
    const rest = this.pending;
    this.pending = null;
    const whole = rest === null ? headBytes : Buffer.concat([headBytes, rest]);
    this.dispatchRequest(head, whole, headBytes.length);
    if (this.reqState === REQ_BODY) this.socket.resume();
  }

  /** Another attempt: the head and the body kept so far go to a connection to `ep`. */
  private resendTo(ep: Endpoint): void {
    const up = this.env.pool.acquire(ep, this, this.key);
    if (up === undefined) {
      this.park({ whole: Buffer.alloc(0), end: 0, verbatim: false, retry: true });
      return;
    }
    this.resend(up);
    if (this.reqState === REQ_BODY) this.socket.resume();
  }

  private resend(up: Upstream): void {
    this.upstream = up;
    up.write(this.sentHead);
    for (const chunk of this.replay ?? []) up.write(chunk);
  }

  /** The route's deadline passed before a response head: the client gets a 504. */
  private onDeadline(timeoutMs: number): void {
    this.deadline = null;
    if (this.resState !== RES_HEAD || this.exchange === null) return;
    this.generation++;
    this.dropAttempt();
    this.resReader.take(0);
    this.failExchange(
      new ProxyError(
        "WEFT_ERR_RESPONSE_TIMEOUT",
        `no response head within the route's ${timeoutMs} ms`,
      ),
    );
  }

  private failExchange(err: ProxyError): void {
    this.exchange?.failed(err);
    this.endExchange();
    this.respondError(err);
  }

  /** The route layer is done with the request (its response head is forwarded, or it failed). */
  private endExchange(): void {
    this.exchange = null;
    if (this.deadline !== null) clearTimeout(this.deadline);
    this.deadline = null;
  }

  /** Whether the request can be sent again: its body so far is kept (and, for `whole`, complete). */
  private replayable(whole: boolean): boolean {
    return this.replay !== null && (!whole || this.reqState === REQ_DONE);
  }

  /** Keeps body bytes for a later attempt; past REPLAY_LIMIT the request is no longer replayable. */
  private keep(chunk: Buffer): void {
    const replay = this.replay as Buffer[];
    this.replayBytes += chunk.length;
    if (this.replayBytes > REPLAY_LIMIT) this.replay = null;
    else replay.push(chunk);
  }

  /** Sends the request again (client paused meanwhile) after the route layer asked for a retry. */
  private retryAttempt(): void {
    const x = this.exchange as Exchange;
    if (this.reqState === REQ_BODY) this.socket.pause();
    this.resReader.take(0);
    this.nextAttempt(this.generation, x, this.req as Head, Buffer.alloc(0));
  }

  private sendRequest(head: Head, endpoint: Endpoint, whole: Buffer, end: number): void {
    const tagged = clientIdRewriteNeeded(head, this.inbound);
    const verbatim = !tagged && !head.hopByHop && head.versionMinor === 1;
    this.sentHead = verbatim ? whole.subarray(0, end) : this.rewrittenHead(head, tagged);
    const up = this.env.pool.acquire(endpoint, this, this.key);
    if (up === undefined) this.park({ whole, end, verbatim, retry: false });
    else this.sendOn(up, whole, end, verbatim);
  }

  private sendOn(up: Upstream, whole: Buffer, end: number, verbatim: boolean): void {
    this.upstream = up;
    // A verbatim head goes out in the same write as the body bytes that came with it; a
    // rewritten one is corked with them, so they still leave in one write (and TLS record batch).
    if (!verbatim || this.reqState !== REQ_BODY) {
      up.socket.cork();
      up.write(this.sentHead);
    }
    if (this.reqState === REQ_BODY) this.forwardRequestBody(whole, end, verbatim ? 0 : end);
    else if (end < whole.length) this.stash(whole.subarray(end));
    if (up.socket.writableCorked > 0) up.socket.uncork();
  }

  /** Holds the request (client paused) until the pool hands over a connection. */
  private park(p: Parked): void {
    this.parked = p;
    this.socket.pause();
  }

  onUpstreamReady(up: Upstream): void {
    const p = this.parked;
    this.parked = null;
    if (p === null || this.reqState === CLOSED || this.socket.destroyed) {
      this.env.pool.release(up);
      return;
    }
    if (p.retry) {
      this.resend(up);
      if (p.whole.length > 0) this.forwardRequestBody(p.whole, 0);
      if (this.reqState === REQ_BODY) this.socket.resume();
      return;
    }
    this.sendOn(up, p.whole, p.end, p.verbatim);
    if (this.reqState === REQ_BODY) this.socket.resume();
  }

  private rewrittenHead(head: Head, tagged: boolean): string {
    const out = rewriteRequestHead(head);
    return tagged ? withClientId(out, this.inbound as InboundPeer) : out;
  }

  /** Forwards the body bytes of `chunk` from `offset`, together with the bytes from `from`. */
  private forwardRequestBody(chunk: Buffer, offset: number, from = offset): void {
    const stop = this.bodyEnd(this.reqBody, chunk, offset);
    if (stop < 0) return;
    if (this.replay !== null && stop > offset) this.keep(slice(chunk, offset, stop));
    if (stop > from) this.sendBody(slice(chunk, from, stop));
    if (!this.reqBody.done) return;
    this.reqState = REQ_DONE;
    if (stop < chunk.length) this.stash(chunk.subarray(stop));
    if (this.resState === RES_DONE) this.finishExchange();
  }

  private sendBody(bytes: Buffer): void {
    if (this.upstream !== null && !this.upstream.write(bytes)) this.socket.pause();
  }

  /** Bytes after a complete request (pipelining): held until the response is done. */
  private stash(chunk: Buffer): void {
    this.pending = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.socket.pause();
  }

  onUpstreamData(chunk: Buffer): boolean {
    if (this.resState === RES_HEAD) this.readResponseHead(chunk);
    else if (this.resState === RES_BODY) this.forwardResponseBody(chunk, 0);
    else this.upstream?.destroy();
    // Nothing of the chunk is held: no partial head in its reader, not a tunnel's (the pipe owns
    // those), and all that was written to the client already handed to the kernel.
    return (
      this.resReader.buffer.length === 0 &&
      this.reqState !== TUNNEL &&
      this.socket.writableLength === 0
    );
  }

  private readResponseHead(chunk: Buffer): void {
    let end: number;
    let head: Head;
    try {
      end = this.resReader.push(chunk);
      if (end < 0) return;
      head = parseHead(this.resReader.text(end), false);
    } catch (err) {
      this.onUpstreamError(
        new ProxyError("WEFT_ERR_UPSTREAM_RESET", `malformed response: ${(err as Error).message}`),
      );
      return;
    }
    const whole = this.resReader.buffer;
    this.resReader.take(end);
    if (head.status < 200 && head.status !== 101) {
      this.socket.write(whole.subarray(0, end));
      if (end < whole.length) this.readResponseHead(whole.subarray(end));
      return;
    }
    this.startResponse(head, whole, end);
  }

  /** With a route layer: true when it discards this response and tries the request again. */
  private retriesResponse(head: Head): boolean {
    const x = this.exchange;
    if (x === null) return false;
    if (!x.retryResponse(head.status, this.replayable(true))) {
      this.endExchange();
      return false;
    }
    // The failed attempt's body is not read: its connection is closed instead.
    this.upstream?.destroy();
    this.upstream = null;
    this.retryAttempt();
    return true;
  }

  private startResponse(head: Head, whole: Buffer, end: number): void {
    if (this.retriesResponse(head)) return;
    const req = this.req as Head;
    const framing = responseFraming(req.method, head, wantsUpgrade(req));
    this.res = head;
    if (framing === "tunnel") {
      this.startTunnel(head, whole.subarray(end));
      return;
    }
    this.resBody.reset(framing, head.contentLength);
    if (framing === "close") this.keepAlive = false;
    const verbatim = !head.hopByHop && this.keepAlive && req.versionMinor === 1;
    if (!verbatim) {
      const conn = this.keepAlive ? "keep-alive" : "close";
      this.socket.cork();
      this.socket.write(rewriteResponseHead(head, conn, req.versionMinor), "latin1");
    }
    this.resState = RES_BODY;
    // A verbatim head goes out in the same write as the body bytes that came with it; a
    // rewritten one leaves with them when the socket is uncorked.
    this.forwardResponseBody(whole, end, verbatim ? 0 : end);
    if (this.socket.writableCorked > 0) this.socket.uncork();
  }

  /** Forwards the body bytes of `chunk` from `offset`, together with the bytes from `from`. */
  private forwardResponseBody(chunk: Buffer, offset: number, from = offset): void {
    const stop = this.bodyEnd(this.resBody, chunk, offset);
    if (stop < 0) return;
    if (stop > from && !this.socket.write(slice(chunk, from, stop))) this.upstream?.socket.pause();
    if (!this.resBody.done) return;
    // Bytes after a complete response mean the upstream cannot be trusted with another request.
    if (stop < chunk.length) this.upstream?.destroy();
    this.responseDone();
  }

  /** Where the body ends in `chunk` (or the chunk's end); -1 after aborting on a framing error. */
  private bodyEnd(framer: BodyFramer, chunk: Buffer, offset: number): number {
    try {
      return offset + framer.consume(chunk, offset);
    } catch (err) {
      this.abort(err);
      return -1;
    }
  }

  private responseDone(): void {
    this.resState = RES_DONE;
    const res = this.res as Head;
    this.route?.response(res.status, -1, "", performance.now() - this.startedAt);
    if (this.reqState === REQ_DONE) this.finishExchange();
    else {
      // The upstream answered before the request body ended; the rest of it cannot be delimited
      // from a next request without reading it all, so this connection ends here.
      this.upstream?.destroy();
      this.close();
    }
  }

  private finishExchange(): void {
    const up = this.upstream;
    this.upstream = null;
    if (up !== null) this.releaseUpstream(up);
    this.req = null;
    this.res = null;
    this.resState = RES_NONE;
    this.replay = null;
    if (!this.keepAlive) {
      this.close();
      return;
    }
    this.reqState = REQ_HEAD;
    const pending = this.pending;
    this.pending = null;
    if (pending !== null) this.onClientData(pending);
    if (this.reqState === REQ_HEAD || this.reqState === REQ_BODY) this.socket.resume();
  }

  private releaseUpstream(up: Upstream): void {
    const res = this.res;
    const reusable = res !== null && upstreamReusable(res) && this.resBody.framing !== "close";
    if (reusable && !up.socket.destroyed && up.owner === this) {
      up.socket.resume();
      this.env.pool.release(up);
    } else up.destroy();
  }

  onUpstreamEnd(): void {
    if (this.resState === RES_BODY && this.resBody.framing === "close") {
      this.resBody.done = true;
      this.upstream?.destroy();
      this.responseDone();
      return;
    }
    this.onUpstreamError(new ProxyError("WEFT_ERR_UPSTREAM_CLOSED"));
  }

  onUpstreamError(err: Error): void {
    const up = this.upstream;
    this.upstream = null;
    if (up !== null) up.destroy();
    if (this.resState !== RES_HEAD) {
      this.abort(err);
      return;
    }
    if (up !== null && this.canRetry(up)) {
      this.retry();
      return;
    }
    const x = this.exchange;
    if (x === null) return this.respondError(upstreamError(err));
    if (x.retryError(err, up !== null && up.connected, this.replayable(false)))
      return this.retryAttempt();
    this.failExchange(upstreamError(err));
  }

  /** A pooled connection closed by the server just as it was reused: safe to send again once. */
  private canRetry(up: Upstream): boolean {
    return (
      up.reused &&
      this.reqState === REQ_DONE &&
      this.reqBody.framing === "none" &&
      this.resReader.buffer.length === 0
    );
  }

  private retry(): void {
    const up = this.env.pool.acquire(this.endpoint as Endpoint, this, this.key);
    if (up === undefined) {
      this.park({ whole: Buffer.alloc(0), end: 0, verbatim: false, retry: true });
      return;
    }
    this.upstream = up;
    up.write(this.sentHead);
  }

  onUpstreamDrain(): void {
    if (this.reqState === REQ_BODY) this.socket.resume();
  }

  private respondError(err: ProxyError): void {
    if (this.env.log.debugOn)
      this.env.log.debug("proxy error", { code: err.code, error: err.message });
    this.route?.response(err.status, -1, err.label, performance.now() - this.startedAt);
    const close = !this.keepAlive || this.reqState !== REQ_DONE;
    this.socket.write(http1ErrorResponse(err, close));
    this.resState = RES_DONE;
    this.res = null;
    if (close) this.close();
    else this.finishExchange();
  }

  private startTunnel(head: Head, rest: Buffer): void {
    const up = this.upstream as Upstream;
    this.upstream = null;
    this.socket.removeListener("data", this.onData);
    this.socket.write(rewriteResponseHead(head, "upgrade", 1), "latin1");
    if (rest.length > 0) this.socket.write(rest);
    const upstream = up.detach();
    if (this.pending !== null) upstream.write(this.pending);
    this.pending = null;
    this.reqState = TUNNEL;
    this.resState = RES_DONE;
    // A tunnel (WebSocket) may be quiet for long; the HTTP idle limit is not its business.
    this.socket.setTimeout(0);
    this.route?.response(head.status, -1, "", performance.now() - this.startedAt);
    tunnel(this.socket, upstream);
    upstream.resume();
    this.socket.resume();
  }

  private onClientEnd(): void {
    if (this.reqState === REQ_HEAD) this.close();
    // A request cut off mid-body cannot be completed.
    else if (this.reqState === REQ_BODY) this.abort(new Error("client closed mid-request"));
    // The response still goes out on the half-closed connection, then it ends.
    else this.keepAlive = false;
  }

  private onClientClose(): void {
    this.reqState = CLOSED;
    this.exchange?.failed(undefined);
    this.endExchange();
    this.dropAttempt();
  }

  /** Gives up the current attempt's connection, or its place in the pool's queue. */
  private dropAttempt(): void {
    if (this.parked !== null) {
      this.parked = null;
      this.env.pool.cancel(this, this.key);
    }
    const up = this.upstream;
    this.upstream = null;
    if (up !== null) up.destroy();
  }

  private close(): void {
    if (this.reqState === CLOSED) return;
    this.reqState = CLOSED;
    this.socket.removeListener("data", this.onData);
    this.socket.end();
    // Whatever the client still sends is read and dropped, so its end (and the close) arrives.
    this.socket.resume();
  }

  private abort(err: unknown): void {
    if (this.env.log.debugOn) this.env.log.debug("aborting exchange", { error: String(err) });
    const up = this.upstream;
    this.upstream = null;
    if (up !== null) up.destroy();
    this.reqState = CLOSED;
    this.socket.destroy();
  }
}
