// The two halves of forwarding one HTTP/2 stream: the request body on its way to an upstream
// stream (kept, up to a limit, so a retry can send it again), and the upstream's response on its
// way back (held until the route layer has chosen it, then relayed). Both pass backpressure on
// through flow control: what the receiving side has not written out is not credited back.

import { REPLAY_LIMIT } from "../http1/exchange";
import { CANCEL, INTERNAL_ERROR, NO_ERROR } from "./frames";
import { forwardHeaders, headerValue } from "./headers";
import type { HeaderList } from "./hpack";
import type { H2Stream } from "./session";

/**
 * A request body that flows to the current attempt as it arrives (a gRPC stream must not wait for
 * its end) and, while it stays within `limit`, is kept: a new attempt gets what was read so far,
 * then the rest. Kept bytes are credited to the client as they arrive; the rest as they are sent.
 */
export class RequestBody {
  private kept: Buffer[] | undefined;
  private size = 0;
  private overflowed: boolean;
  /** Bytes read before any attempt took them, with what each still owes the client's window. */
  private pending: Buffer[] | undefined;
  private pendingCredit: number[] | undefined;
  private ended: boolean;
  private trailers: HeaderList | undefined;
  private readonly noBody: boolean;
  private target: H2Stream | undefined;
  private everAttached = false;

  /** `ended`: the request had no body (END_STREAM on its headers). */
  constructor(
    private readonly source: H2Stream,
    ended: boolean,
    private readonly limit = REPLAY_LIMIT,
  ) {
    this.ended = ended;
    this.noBody = ended;
    this.overflowed = limit === 0;
    if (ended) return;
    source.onData = (chunk, end) => this.onData(chunk, end);
    source.onTrailers = (t) => this.onTrailers(t);
  }

  /** The whole body is known and kept: a retry can send it again. */
  get complete(): boolean {
    return this.ended && !this.overflowed;
  }

  /** Everything read so far is kept: a new attempt can take over the stream. */
  get intact(): boolean {
    return !this.overflowed;
  }

  /** The request had no body: upstream requests are opened with END_STREAM. */
  get empty(): boolean {
    return this.noBody;
  }

  /** Sends the body to `target` (what is kept or waiting, then the rest as it comes). */
  attach(target: H2Stream): void {
    this.target = target;
    target.creditTo = this.source;
    const first = !this.everAttached;
    this.everAttached = true;
    if (this.noBody) return;
    if (first && this.overflowed) this.sendPending(target);
    else if (this.kept !== undefined) for (const c of this.kept) target.sendData(c, false, 0);
    if (this.trailers !== undefined) target.sendTrailers(forwardHeaders(this.trailers));
    else if (this.ended) target.end();
  }

  /** Stops feeding the current target: its attempt is over. */
  detach(): void {
    this.target = undefined;
  }

  /** No attempt will follow (a response is being forwarded): what was kept is let go. */
  settle(): void {
    this.overflowed = true;
    this.kept = undefined;
  }

  private sendPending(target: H2Stream): void {
    const pending = this.pending;
    const credit = this.pendingCredit;
    if (pending === undefined || credit === undefined) return;
    for (let i = 0; i < pending.length; i++) target.sendData(pending[i], false, credit[i]);
    this.pending = undefined;
    this.pendingCredit = undefined;
  }

  private keepPending(chunk: Buffer, credit: number): void {
    (this.pending ??= []).push(chunk);
    (this.pendingCredit ??= []).push(credit);
  }

  private onData(chunk: Buffer, end: boolean): void {
    if (end) this.ended = true;
    let credit = chunk.length;
    if (!this.overflowed) {
      this.size += chunk.length;
      if (this.size > this.limit) this.overflow();
      else {
        (this.kept ??= []).push(chunk);
        this.source.consume(chunk.length);
        credit = 0;
      }
    }
    const target = this.target;
    if (target !== undefined) return target.sendData(chunk, end, credit);
    if (!this.everAttached && this.overflowed) return this.keepPending(chunk, credit);
    // Kept for the next attempt, or read after the last attempt ended (the request fails).
    this.source.consume(credit);
  }

  private onTrailers(trailers: HeaderList): void {
    this.ended = true;
    this.trailers = trailers;
    this.target?.sendTrailers(forwardHeaders(trailers));
  }

  /** Before the first attempt, kept chunks become pending ones: nothing has sent them yet. */
  private overflow(): void {
    this.overflowed = true;
    if (!this.everAttached && this.kept !== undefined)
      for (const c of this.kept) this.keepPending(c, 0);
    this.kept = undefined;
  }
}

/**
 * An upstream stream's response from its head on. Body and trailers are held until `relayTo`
 * (the route layer may wait for the first frame to judge a gRPC status, or drop the attempt);
 * after that they pass straight on. `onClose` learns how the upstream stream ended.
 */
export class UpstreamResponse {
  /** The upstream's trailers, once received. */
  trailers: HeaderList | undefined;
  /** The upstream stream's close code, once closed. */
  closeCode: number | undefined;
  /** Called when the first body frame, trailers or the end arrives (or at once if already). */
  onFirstFrame: (() => void) | undefined;
  /** Called when the upstream stream closes, after the relay has acted on it. */
  onClose: ((code: number) => void) | undefined;
  private held: Buffer[] | undefined;
  private heldEnd = false;
  private down: H2Stream | undefined;
  private bodyBytes = 0;
  /** The head's content-length; 0 when it has none (nothing to check a reset against). */
  private readonly contentLength: number;

  constructor(
    readonly up: H2Stream,
    readonly head: HeaderList,
    readonly endStream: boolean,
  ) {
    this.contentLength = Number(headerValue(head, "content-length") ?? 0) || 0;
    up.onData = (chunk, end) => this.data(chunk, end);
    up.onTrailers = (t) => this.gotTrailers(t);
    up.onClose = (code) => this.closed(code);
  }

  /** Something after the head has arrived (or nothing will). */
  get framed(): boolean {
    return (
      this.endStream || this.held !== undefined || this.heldEnd || this.closeCode !== undefined
    );
  }

  /** Sends the head, what is held, and the rest as it comes to `down`; resets cross both ways. */
  relayTo(down: H2Stream): void {
    this.down = down;
    down.creditTo = this.up;
    down.onClose = (code) => {
      // A clean close downstream means the whole response went out: the upstream ended too.
      if (this.up.closed || (code === NO_ERROR && this.up.remoteEnded)) return;
      this.up.reset(code === NO_ERROR ? CANCEL : code);
    };
    down.sendHeaders(forwardHeaders(this.head), this.endStream);
    if (this.held !== undefined) for (const c of this.held) down.sendData(c, false);
    this.held = undefined;
    if (this.trailers !== undefined) down.sendTrailers(forwardHeaders(this.trailers));
    else if (this.heldEnd) down.end();
    if (this.closeCode !== undefined) this.closeDown(this.closeCode);
  }

  /** The attempt is dropped: its upstream stream is cancelled. */
  discard(): void {
    this.held = undefined;
    if (!this.up.closed) this.up.reset(CANCEL);
  }

  private data(chunk: Buffer, end: boolean): void {
    this.bodyBytes += chunk.length;
    const down = this.down;
    if (down !== undefined) return down.sendData(chunk, end);
    if (chunk.length > 0) (this.held ??= []).push(chunk);
    if (end) this.heldEnd = true;
    this.firstFrame();
  }

  private gotTrailers(trailers: HeaderList): void {
    this.trailers = trailers;
    if (this.down !== undefined) this.down.sendTrailers(forwardHeaders(trailers));
    else this.firstFrame();
  }

  private closed(code: number): void {
    this.closeCode = code;
    if (this.down !== undefined) this.closeDown(code);
    else this.firstFrame();
    this.onClose?.(code);
  }

  private closeDown(code: number): void {
    const down = this.down as H2Stream;
    if (code !== NO_ERROR) return down.reset(code);
    if (!this.up.remoteEnded && this.trailers === undefined) {
      // RST_STREAM(NO_ERROR) before END_STREAM: node:http2 sends it when its last, empty DATA
      // frame waits for a window. The response is whole unless its content-length says not.
      if (this.bodyBytes < this.contentLength) return down.reset(INTERNAL_ERROR);
      down.end();
    }
    // A request body still arriving has nowhere to go: consumed, and the client told to stop.
    if (!down.remoteEnded) {
      down.onData = (chunk) => down.consume(chunk.length);
      down.endRequestWithResponse();
    }
  }

  private firstFrame(): void {
    const f = this.onFirstFrame;
    this.onFirstFrame = undefined;
    f?.();
  }
}
