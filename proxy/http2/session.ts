// One HTTP/2 connection (RFC 9113), server or client side, with the least a proxy needs: streams
// as plain objects with callbacks instead of Node streams, HPACK, flow control both ways, SETTINGS,
// PING, RST_STREAM and GOAWAY. Frames written in one turn of the event loop leave in one write.
//
// Flow control is how backpressure crosses the proxy: received DATA is credited back to its
// sender (WINDOW_UPDATE) only when the stream it was forwarded to has written it out, which the
// forwarding stream reports through `creditTo`.

import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import {
  CANCEL,
  CLIENT_PREFACE,
  COMPRESSION_ERROR,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  ENHANCE_YOUR_CALM,
  FLAG_ACK,
  FLAG_END_HEADERS,
  FLAG_END_STREAM,
  FLAG_PRIORITY,
  FLOW_CONTROL_ERROR,
  FRAME_CONTINUATION,
  FRAME_DATA,
  FRAME_GOAWAY,
  FRAME_HEADERS,
  FRAME_PING,
  FRAME_PRIORITY,
  FRAME_PUSH_PROMISE,
  FRAME_RST_STREAM,
  FRAME_SETTINGS,
  FRAME_SIZE_ERROR,
  FRAME_WINDOW_UPDATE,
  FrameReader,
  H2ConnectionError,
  INTERNAL_ERROR,
  MAX_WINDOW,
  NO_ERROR,
  PROTOCOL_ERROR,
  REFUSED_STREAM,
  SETTINGS_ENABLE_PUSH,
  SETTINGS_HEADER_TABLE_SIZE,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_CONCURRENT_STREAMS,
  SETTINGS_MAX_FRAME_SIZE,
  SETTINGS_MAX_HEADER_LIST_SIZE,
  STREAM_CLOSED,
  goawayFrame,
  settingsFrame,
  unpad,
  windowUpdateFrame,
  writeFrameHeader,
  type FrameSink,
} from "./frames";
import { HpackDecoder, HpackEncoder, HpackError, type HeaderList } from "./hpack";
import { OutBuffer } from "./out";
import { StreamTable } from "./streams";

/** What this side lets a peer send on one stream before it credits the window back. */
export const STREAM_WINDOW = 256 * 1024;
/** And on the whole connection. */
const CONNECTION_WINDOW = 1024 * 1024;
/** The largest header list accepted (name + value + 32 per field). */
const MAX_HEADER_LIST = 64 * 1024;
/** Stop framing DATA while this much is waiting in the socket; resume on 'drain'. */
const SOCKET_HIGH_WATER = 256 * 1024;
/** DATA payloads below this size are copied next to their frame header; larger ones go as they are. */
const COPY_BELOW = 1024;
const FRAME_HEADER_SIZE = 9;
/** Streams a peer may have open at once (Go's HTTP/2 server allows 250, nginx 128). */
const MAX_PEER_STREAMS = 256;
/** CONTINUATION frames one header block may take. */
const MAX_CONTINUATIONS = 64;
/** Bytes waiting to be written before a peer counts as not reading at all. */
const MAX_UNREAD_OUTPUT = 4 * 1024 * 1024;
/** How long a connection closed on an error waits for its GOAWAY to leave. */
const GOAWAY_LINGER_MS = 1000;

const noop = (): void => undefined;

interface Queued {
  chunk: Buffer;
  end: boolean;
  /** Bytes still to credit to `creditTo` as the chunk leaves. */
  credit: number;
  /** Trailers to send once the queued data before them is out. */
  trailers: HeaderList | undefined;
}

/** One stream: a request and its response. Callbacks are set by whoever owns the stream. */
export class H2Stream {
  id = 0;
  /** The first HEADERS of the peer: the request (server side) or the final response head. */
  onHead: (headers: HeaderList, endStream: boolean) => void = noop;
  onData: (chunk: Buffer, endStream: boolean) => void = noop;
  onTrailers: (trailers: HeaderList) => void = noop;
  /** Once, when the stream ends: `code` is NO_ERROR when both sides ended it cleanly. */
  onClose: (code: number) => void = noop;
  /** The stream whose received data this stream forwards: credited as that data goes out. */
  creditTo: H2Stream | undefined;
  rstCode: number | undefined;
  headReceived = false;
  headersSent = false;
  localEnded = false;
  remoteEnded = false;
  closed = false;

  /** END_STREAM is sent or queued: nothing more may be queued. */
  localDone = false;
  /** In the session's list of streams with data to send. */
  sendable = false;
  /** Server side: once the response has ended, reset a request still arriving (NO_ERROR). */
  stopRequestWhenAnswered = false;
  sendWindow: number;
  recvWindow = STREAM_WINDOW;
  private unacked = 0;
  /** Data and trailers waiting for a window (or for the stream to open); made when first needed. */
  queue: Queued[] | undefined;
  /** HEADERS to send once the stream can be opened (client side, at the peer's stream limit). */
  pendingOpen: { block: HeaderList; end: boolean } | undefined;

  constructor(
    readonly session: H2Session,
    sendWindow: number,
  ) {
    this.sendWindow = sendWindow;
  }

  /** The response head (server side) or, for a stream queued by `request`, nothing. */
  sendHeaders(headers: HeaderList, endStream: boolean): void {
    if (this.closed || this.localDone || this.headersSent) return;
    this.headersSent = true;
    if (endStream) this.localDone = true;
    this.session.writeHeaders(this, headers, endStream);
  }

  /** Queues body bytes; `credit` of them are credited to `creditTo` as they are written. */
  sendData(chunk: Buffer, endStream: boolean, credit = chunk.length): void {
    if (this.closed || this.localDone) return;
    if (endStream) this.localDone = true;
    // Nothing waiting ahead of it and room in the windows: framed at once, no queue entry.
    if (this.queued === 0 && this.id !== 0 && this.session.sendNow(this, chunk, endStream, credit))
      return;
    (this.queue ??= []).push({ chunk, end: endStream, credit, trailers: undefined });
    this.session.schedule(this);
  }

  /** How many entries wait in the queue. */
  get queued(): number {
    return this.queue === undefined ? 0 : this.queue.length;
  }

  end(): void {
    this.sendData(Buffer.alloc(0), true, 0);
  }

  sendTrailers(trailers: HeaderList): void {
    if (this.closed || this.localDone) return;
    if (trailers.length === 0) return this.end();
    this.localDone = true;
    if (this.queued === 0 && this.id !== 0) return this.session.writeHeaders(this, trailers, true);
    (this.queue ??= []).push({ chunk: EMPTY, end: true, credit: 0, trailers });
    this.session.schedule(this);
  }

  /** Ends the stream with RST_STREAM `code`; its owner hears of it through onClose. */
  reset(code = CANCEL): void {
    if (this.closed) return;
    if (this.id !== 0) this.session.writeFrame32(FRAME_RST_STREAM, this.id, code);
    this.session.closeStream(this, code);
  }

  /**
   * Server side: the rest of the request body is not wanted. Once the response has ended, the
   * client is told to stop sending it (RST_STREAM NO_ERROR, RFC 9113 §8.1).
   */
  endRequestWithResponse(): void {
    if (this.closed || this.remoteEnded) return;
    if (this.localEnded) return this.reset(NO_ERROR);
    this.stopRequestWhenAnswered = true;
  }

  /** The owner has passed on `n` received bytes: the peer may send that many more. */
  consume(n: number): void {
    if (this.closed || this.remoteEnded || n <= 0) return;
    this.unacked += n;
    if (this.unacked < STREAM_WINDOW / 2) return;
    this.recvWindow += this.unacked;
    this.session.writeFrame32(FRAME_WINDOW_UPDATE, this.id, this.unacked);
    this.unacked = 0;
  }

  /** The session's error when the connection failed under this stream. */
  get sessionError(): Error | undefined {
    return this.session.error;
  }
}

const EMPTY = Buffer.alloc(0);

export type Role = "server" | "client";

export interface SessionOptions {
  /** Server side: each new stream with its request head. */
  onStream?: (stream: H2Stream, headers: HeaderList, endStream: boolean) => void;
}

/** One HTTP/2 connection over `socket` (already connected, or connecting: writes wait). */
export class H2Session implements FrameSink {
  readonly streams = new StreamTable<H2Stream>();
  onStream: (stream: H2Stream, headers: HeaderList, endStream: boolean) => void;
  /** The peer sent GOAWAY, or this side began closing: no new streams. */
  onGoaway: () => void = noop;
  onClose: () => void = noop;
  /** The first SETTINGS from the peer arrived: it speaks HTTP/2. */
  onRemoteSettings: () => void = noop;
  error: Error | undefined;
  goingAway = false;
  closed = false;

  private readonly reader: FrameReader;
  private readonly decoder = new HpackDecoder(4096, MAX_HEADER_LIST);
  private readonly encoder = new HpackEncoder();
  private readonly out = new OutBuffer();
  private flushScheduled = false;
  /** Streams with queued data, in the order they asked. */
  private sendable: H2Stream[] = [];
  private connSendWindow = DEFAULT_WINDOW;
  private connUnacked = 0;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME_SIZE;
  private peerMaxStreams = Infinity;
  private gotSettings = false;
  private nextStreamId: number;
  private lastPeerStreamId = 0;
  /** Client side: streams waiting for the peer's concurrency limit. */
  private waiting: H2Stream[] = [];
  private opened = 0;
  /** A header block split over CONTINUATION frames, while it is being received. */
  private continuing:
    | { streamId: number; flags: number; parts: Buffer[]; size: number; frames: number }
    | undefined;
  private prefaceLeft: number;

  constructor(
    readonly socket: Duplex,
    readonly role: Role,
    options: SessionOptions = {},
    initial?: Buffer,
  ) {
    this.onStream = options.onStream ?? ((s) => s.reset(REFUSED_STREAM));
    this.nextStreamId = role === "client" ? 1 : 2;
    this.prefaceLeft = role === "server" ? CLIENT_PREFACE.length : 0;
    this.reader = new FrameReader(this);
    if (role === "client") this.write(CLIENT_PREFACE);
    const settings: [number, number][] = [
      [SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW],
      [SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST],
    ];
    if (role === "client") settings.unshift([SETTINGS_ENABLE_PUSH, 0]);
    else settings.unshift([SETTINGS_MAX_CONCURRENT_STREAMS, MAX_PEER_STREAMS]);
    this.write(settingsFrame(settings));
    this.write(windowUpdateFrame(0, CONNECTION_WINDOW - DEFAULT_WINDOW));
    // One write per turn already batches the frames; Nagle would only hold the next one back.
    (socket as Partial<Socket>).setNoDelay?.(true);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("drain", () => this.flushData());
    socket.on("error", (e: Error) => this.destroy(e));
    socket.on("end", () => this.destroy());
    socket.on("close", () => this.destroy());
    if (initial !== undefined && initial.length > 0) this.receive(initial);
    socket.resume();
  }

  /** Client side: opens a stream with its request head (or queues it at the peer's limit). */
  request(headers: HeaderList, endStream: boolean): H2Stream {
    if (this.closed || this.goingAway)
      throw this.error ?? new Error("the HTTP/2 session is closing");
    const stream = new H2Stream(this, this.peerInitialWindow);
    stream.headersSent = true;
    stream.localDone = endStream;
    if (this.opened >= this.peerMaxStreams) {
      stream.pendingOpen = { block: headers, end: endStream };
      this.waiting.push(stream);
      return stream;
    }
    this.open(stream, headers, endStream);
    return stream;
  }

  /** Streams open or waiting to open. */
  get activeStreams(): number {
    return this.streams.size + this.waiting.length;
  }

  /** Graceful close: GOAWAY, no new streams; the socket ends once the open streams are done. */
  close(): void {
    if (this.closed || this.goingAway) return;
    this.goingAway = true;
    this.write(goawayFrame(this.lastPeerStreamId, NO_ERROR));
    this.onGoaway();
    this.endWhenIdle();
  }

  /**
   * Closes the connection now; streams still open end with `code`. `flushFirst` lets what is
   * written (a GOAWAY) leave before the socket closes.
   */
  destroy(err?: Error, code = CANCEL, flushFirst = false): void {
    if (this.closed) return;
    if (err !== undefined) this.error ??= err;
    const streams = [...this.streams.values(), ...this.waiting];
    this.goingAway = true;
    this.flush();
    this.closed = true;
    for (const s of streams) this.closeStream(s, code);
    this.waiting = [];
    if (flushFirst) {
      const socket = this.socket;
      socket.end();
      setTimeout(() => socket.destroy(), GOAWAY_LINGER_MS).unref();
    } else this.socket.destroy();
    this.onClose();
  }

  // --- writing ---------------------------------------------------------------------------------

  /** Copies `buf` (a whole frame, or the preface) to the output. */
  write(buf: Buffer): void {
    if (this.closed) return;
    const at = this.out.reserve(buf.length);
    buf.copy(this.out.slab, at);
    this.wake();
  }

  /** A frame whose payload is at most `payload` (copied), into the output. */
  writeFrame(type: number, flags: number, streamId: number, payload?: Buffer): void {
    if (this.closed) return;
    const len = payload?.length ?? 0;
    const at = this.out.reserve(FRAME_HEADER_SIZE + len);
    writeFrameHeader(this.out.slab, at, len, type, flags, streamId);
    if (payload !== undefined) copySmall(payload, 0, len, this.out.slab, at + FRAME_HEADER_SIZE);
    this.wake();
  }

  /** A frame with a 4-byte payload (RST_STREAM, WINDOW_UPDATE). */
  writeFrame32(type: number, streamId: number, value: number): void {
    if (this.closed) return;
    const at = this.out.reserve(FRAME_HEADER_SIZE + 4);
    writeFrameHeader(this.out.slab, at, 4, type, 0, streamId);
    this.out.slab.writeUInt32BE(value, at + FRAME_HEADER_SIZE);
    this.wake();
  }

  writeHeaders(stream: H2Stream, headers: HeaderList, endStream: boolean): void {
    if (this.closed) return;
    const length = this.encoder.encodeShared(headers);
    const block = this.encoder.shared;
    const max = this.peerMaxFrame;
    let from = 0;
    do {
      const len = Math.min(max, length - from);
      const first = from === 0;
      const last = from + len === length;
      const flags = (last ? FLAG_END_HEADERS : 0) | (first && endStream ? FLAG_END_STREAM : 0);
      const at = this.out.reserve(FRAME_HEADER_SIZE + len);
      const type = first ? FRAME_HEADERS : FRAME_CONTINUATION;
      writeFrameHeader(this.out.slab, at, len, type, flags, stream.id);
      copySmall(block, from, len, this.out.slab, at + FRAME_HEADER_SIZE);
      from += len;
    } while (from < length);
    this.wake();
    if (endStream) this.endedLocally(stream);
  }

  private wake(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(flushSession, this);
  }

  /** `stream` has something queued: it is framed at the next flush (once it has an id). */
  schedule(stream: H2Stream): void {
    if (stream.sendable || stream.id === 0) return;
    stream.sendable = true;
    this.sendable.push(stream);
    this.wake();
  }

  /** Writes everything framed so far, DATA as far as the windows allow, in one write. */
  flush(): void {
    this.flushScheduled = false;
    this.flushData();
    if (this.out.empty || this.socket.destroyed) return;
    const parts = this.out.take();
    if (parts.length === 1) {
      this.socket.write(parts[0]);
      return;
    }
    this.socket.cork();
    for (const p of parts) this.socket.write(p);
    this.socket.uncork();
  }

  /** Frames queued DATA and trailers while the connection, the streams and the socket allow. */
  flushData(): void {
    if (this.sendable.length === 0 || this.closed) return;
    const list = this.sendable;
    this.sendable = [];
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      s.sendable = false;
      if (this.connSendWindow <= 0 || this.socketFull() || !this.drainStream(s)) {
        // Blocked by a window or the socket: kept, in order, for the next WINDOW_UPDATE or drain.
        if (!s.closed && s.queued > 0) {
          s.sendable = true;
          this.sendable.push(s);
        }
      }
    }
  }

  private socketFull(): boolean {
    return this.socket.writableLength + this.out.bytes > SOCKET_HIGH_WATER;
  }

  /** Sends what the windows allow of one stream's queue; true when the queue is empty. */
  private drainStream(s: H2Stream): boolean {
    const q = s.queue;
    if (q === undefined) return true;
    while (q.length > 0 && !s.closed) {
      const item = q[0];
      if (item.trailers !== undefined) {
        q.shift();
        this.writeHeaders(s, item.trailers, true);
      } else if (item.chunk.length === 0) {
        q.shift();
        if (item.end) this.writeData(s, EMPTY, true);
      } else if (!this.sendPiece(s, item)) return false;
    }
    return true;
  }

  /** Frames all of `chunk` if the windows and the socket allow it now; false otherwise. */
  sendNow(s: H2Stream, chunk: Buffer, end: boolean, credit: number): boolean {
    const len = chunk.length;
    if (len === 0) {
      if (end) this.writeData(s, EMPTY, true);
      return true;
    }
    if (this.closed || len > s.sendWindow || len > this.connSendWindow) return false;
    if (len > this.peerMaxFrame || this.socketFull()) return false;
    s.sendWindow -= len;
    this.connSendWindow -= len;
    this.writeData(s, chunk, end);
    if (credit > 0) s.creditTo?.consume(credit);
    return true;
  }

  /** Frames as much of `item` as the windows allow; false when nothing could be sent. */
  private sendPiece(s: H2Stream, item: Queued): boolean {
    const len = item.chunk.length;
    const allowed = Math.min(len, s.sendWindow, this.connSendWindow, this.peerMaxFrame);
    if (allowed <= 0 || this.socketFull()) return false;
    const whole = allowed === len;
    s.sendWindow -= allowed;
    this.connSendWindow -= allowed;
    this.writeData(s, whole ? item.chunk : item.chunk.subarray(0, allowed), whole && item.end);
    const credit = whole ? item.credit : Math.min(item.credit, allowed);
    item.credit -= credit;
    if (whole) s.queue?.shift();
    else item.chunk = item.chunk.subarray(allowed);
    if (credit > 0) s.creditTo?.consume(credit);
    return true;
  }

  private writeData(s: H2Stream, piece: Buffer, end: boolean): void {
    const flags = end ? FLAG_END_STREAM : 0;
    if (piece.length < COPY_BELOW) this.writeFrame(FRAME_DATA, flags, s.id, piece);
    else {
      const at = this.out.reserve(FRAME_HEADER_SIZE);
      writeFrameHeader(this.out.slab, at, piece.length, FRAME_DATA, flags, s.id);
      this.out.append(piece);
      this.wake();
    }
    if (end) this.endedLocally(s);
  }

  private open(stream: H2Stream, headers: HeaderList, endStream: boolean): void {
    stream.id = this.nextStreamId;
    this.nextStreamId += 2;
    this.streams.set(stream);
    this.opened++;
    // Stream ids run out at 2^31: the pool then opens a new connection.
    if (this.nextStreamId > MAX_WINDOW) {
      this.goingAway = true;
      this.onGoaway();
    }
    this.writeHeaders(stream, headers, endStream);
    if (stream.queued > 0) this.schedule(stream);
  }

  private endedLocally(s: H2Stream): void {
    s.localEnded = true;
    if (s.remoteEnded) return this.closeStream(s, NO_ERROR);
    // The whole response is out while the request still comes: the client may stop (§8.1).
    if (s.stopRequestWhenAnswered) {
      this.writeFrame32(FRAME_RST_STREAM, s.id, NO_ERROR);
      this.closeStream(s, NO_ERROR);
    }
  }

  closeStream(s: H2Stream, code: number): void {
    if (s.closed) return;
    s.closed = true;
    s.rstCode = code;
    // What was queued will not be sent, but its sender must not wait for the credit forever.
    if (s.queue !== undefined)
      for (const q of s.queue) if (q.credit > 0) s.creditTo?.consume(q.credit);
    s.queue = undefined;
    if (s.id !== 0 && this.streams.delete(s.id)) this.opened--;
    else {
      const i = this.waiting.indexOf(s);
      if (i >= 0) this.waiting.splice(i, 1);
    }
    s.onClose(code);
    this.openWaiting();
    this.endWhenIdle();
  }

  private openWaiting(): void {
    // Out of stream ids: the waiting streams were not sent; refused, they go on a new connection.
    if (this.nextStreamId > MAX_WINDOW)
      for (const s of [...this.waiting]) this.closeStream(s, REFUSED_STREAM);
    while (this.waiting.length > 0 && this.opened < this.peerMaxStreams && !this.closed) {
      const s = this.waiting.shift() as H2Stream;
      const p = s.pendingOpen as { block: HeaderList; end: boolean };
      s.pendingOpen = undefined;
      this.open(s, p.block, p.end);
    }
  }

  private endWhenIdle(): void {
    if (!this.goingAway || this.closed || this.activeStreams > 0) return;
    this.flush();
    this.closed = true;
    this.socket.end();
    this.onClose();
  }

  // --- reading ---------------------------------------------------------------------------------

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    try {
      if (this.prefaceLeft > 0) chunk = this.checkPreface(chunk);
      if (chunk.length > 0) this.reader.push(chunk);
      // DATA stops at SOCKET_HIGH_WATER; only a peer that sends and never reads (a PING or
      // SETTINGS flood) piles answers up beyond it.
      if (this.socket.writableLength + this.out.bytes > MAX_UNREAD_OUTPUT)
        throw new H2ConnectionError(ENHANCE_YOUR_CALM, "the peer does not read");
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private checkPreface(chunk: Buffer): Buffer {
    const from = CLIENT_PREFACE.length - this.prefaceLeft;
    const n = Math.min(this.prefaceLeft, chunk.length);
    if (CLIENT_PREFACE.compare(chunk, 0, n, from, from + n) !== 0)
      throw new H2ConnectionError(PROTOCOL_ERROR, "not the HTTP/2 client preface");
    this.prefaceLeft -= n;
    return chunk.subarray(n);
  }

  /** A connection error: GOAWAY with its code, then close. */
  private fail(err: Error): void {
    const code = err instanceof H2ConnectionError ? err.h2code : COMPRESSION_ERROR;
    if (!(err instanceof H2ConnectionError) && !(err instanceof HpackError)) {
      this.destroy(err, INTERNAL_ERROR);
      return;
    }
    this.write(goawayFrame(this.lastPeerStreamId, code));
    this.destroy(err, code, true);
  }

  frame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.continuing !== undefined && type !== FRAME_CONTINUATION)
      throw new H2ConnectionError(PROTOCOL_ERROR, "expected CONTINUATION");
    if (!this.gotSettings && type !== FRAME_SETTINGS)
      throw new H2ConnectionError(PROTOCOL_ERROR, "the first frame must be SETTINGS");
    // Unknown frame types are ignored (§4.1).
    FRAME_HANDLERS[type]?.(this, flags, streamId, payload);
  }

  data(streamId: number, chunk: Buffer, endStream: boolean): void {
    if (!this.gotSettings) throw new H2ConnectionError(PROTOCOL_ERROR, "DATA before SETTINGS");
    if (this.continuing !== undefined)
      throw new H2ConnectionError(PROTOCOL_ERROR, "expected CONTINUATION");
    this.receivedData(streamId, chunk, chunk.length, endStream);
  }

  /** @internal */
  paddedData(flags: number, streamId: number, payload: Buffer): void {
    this.receivedData(
      streamId,
      unpad(payload, flags),
      payload.length,
      (flags & FLAG_END_STREAM) !== 0,
    );
  }

  private receivedData(streamId: number, chunk: Buffer, flowLength: number, end: boolean): void {
    if (streamId === 0) throw new H2ConnectionError(PROTOCOL_ERROR, "DATA on stream 0");
    this.creditConnection(flowLength);
    const s = this.streams.get(streamId);
    if (s === undefined) return this.unknownStream(streamId);
    if (s.remoteEnded || !s.headReceived) return s.reset(STREAM_CLOSED);
    s.recvWindow -= flowLength;
    if (s.recvWindow < 0) return s.reset(FLOW_CONTROL_ERROR);
    // Padding is not passed on, so it is credited at once.
    if (flowLength > chunk.length) s.consume(flowLength - chunk.length);
    this.deliver(s, chunk, end);
  }

  private deliver(s: H2Stream, chunk: Buffer, end: boolean): void {
    if (end) s.remoteEnded = true;
    if (chunk.length > 0 || end) s.onData(chunk, end);
    if (end && s.localEnded) this.closeStream(s, NO_ERROR);
  }

  /** The connection window is credited as data arrives; streams hold back what is not passed on. */
  private creditConnection(n: number): void {
    this.connUnacked += n;
    if (this.connUnacked < CONNECTION_WINDOW / 2) return;
    this.writeFrame32(FRAME_WINDOW_UPDATE, 0, this.connUnacked);
    this.connUnacked = 0;
  }

  private unknownStream(streamId: number): void {
    if (this.isIdle(streamId))
      throw new H2ConnectionError(PROTOCOL_ERROR, `frame on idle stream ${streamId}`);
  }

  /** A stream id the peer has not used yet (frames other than HEADERS on it are an error). */
  private isIdle(streamId: number): boolean {
    const peerInitiated = (streamId & 1) === (this.role === "server" ? 1 : 0);
    return peerInitiated ? streamId > this.lastPeerStreamId : streamId >= this.nextStreamId;
  }

  /** @internal */
  headersFrame(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new H2ConnectionError(PROTOCOL_ERROR, "HEADERS on stream 0");
    let fragment = unpad(payload, flags);
    if ((flags & FLAG_PRIORITY) !== 0) {
      if (fragment.length < 5) throw new H2ConnectionError(FRAME_SIZE_ERROR, "short PRIORITY");
      fragment = fragment.subarray(5);
    }
    if ((flags & FLAG_END_HEADERS) !== 0) return this.headerBlock(streamId, flags, fragment);
    this.continuing = {
      streamId,
      flags,
      parts: [Buffer.from(fragment)],
      size: fragment.length,
      frames: 0,
    };
  }

  /** @internal */
  continuation(flags: number, streamId: number, payload: Buffer): void {
    const c = this.continuing;
    if (c === undefined || c.streamId !== streamId)
      throw new H2ConnectionError(PROTOCOL_ERROR, "unexpected CONTINUATION");
    c.size += payload.length;
    if (c.size > MAX_HEADER_LIST * 2 || ++c.frames > MAX_CONTINUATIONS)
      throw new H2ConnectionError(ENHANCE_YOUR_CALM, "header block too large");
    if (payload.length > 0) c.parts.push(Buffer.from(payload));
    if ((flags & FLAG_END_HEADERS) === 0) return;
    this.continuing = undefined;
    this.headerBlock(streamId, c.flags, Buffer.concat(c.parts, c.size));
  }

  /** A whole header block: a new stream's request, a response head, or trailers. */
  private headerBlock(streamId: number, flags: number, block: Buffer): void {
    // Decoded first, whatever happens to the stream, to keep the HPACK state in step.
    const headers = this.decoder.decode(block);
    const end = (flags & FLAG_END_STREAM) !== 0;
    const s = this.streams.get(streamId);
    if (s === undefined) return this.newPeerStream(streamId, headers, end);
    if (s.remoteEnded) return s.reset(STREAM_CLOSED);
    if (!s.headReceived) return this.head(s, headers, end);
    if (!end) return s.reset(PROTOCOL_ERROR); // Trailers must end the stream.
    s.remoteEnded = true;
    s.onTrailers(headers);
    if (s.localEnded) this.closeStream(s, NO_ERROR);
  }

  private head(s: H2Stream, headers: HeaderList, end: boolean): void {
    // An interim (1xx) response is not passed on: the final head follows.
    if (this.role === "client" && isInterim(headers)) {
      if (end) s.reset(PROTOCOL_ERROR);
      return;
    }
    s.headReceived = true;
    if (end) s.remoteEnded = true;
    s.onHead(headers, end);
    if (end && s.localEnded) this.closeStream(s, NO_ERROR);
  }

  private newPeerStream(streamId: number, headers: HeaderList, end: boolean): void {
    // Frames still in flight on a stream this side has closed are ignored.
    if (!this.isIdle(streamId)) return;
    if (this.role === "client" || (streamId & 1) === 0)
      throw new H2ConnectionError(PROTOCOL_ERROR, `HEADERS on stream ${streamId}`);
    this.lastPeerStreamId = streamId;
    const s = new H2Stream(this, this.peerInitialWindow);
    s.id = streamId;
    if (this.goingAway) {
      this.writeFrame32(FRAME_RST_STREAM, streamId, REFUSED_STREAM);
      return;
    }
    // Beyond the limit this side announced: refused, not processed (§5.1.2).
    if (this.opened >= MAX_PEER_STREAMS) {
      this.writeFrame32(FRAME_RST_STREAM, streamId, REFUSED_STREAM);
      return;
    }
    this.streams.set(s);
    this.opened++;
    s.headReceived = true;
    if (end) s.remoteEnded = true;
    this.onStream(s, headers, end);
  }

  /** @internal */
  rstStream(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new H2ConnectionError(FRAME_SIZE_ERROR, "RST_STREAM size");
    if (streamId === 0) throw new H2ConnectionError(PROTOCOL_ERROR, "RST_STREAM on stream 0");
    const s = this.streams.get(streamId);
    if (s === undefined) return this.unknownStream(streamId);
    this.closeStream(s, payload.readUInt32BE(0));
  }

  /** @internal */
  settings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new H2ConnectionError(PROTOCOL_ERROR, "SETTINGS on a stream");
    if ((flags & FLAG_ACK) !== 0) {
      if (payload.length !== 0) throw new H2ConnectionError(FRAME_SIZE_ERROR, "SETTINGS ACK size");
      return;
    }
    if (payload.length % 6 !== 0) throw new H2ConnectionError(FRAME_SIZE_ERROR, "SETTINGS size");
    for (let at = 0; at < payload.length; at += 6)
      this.setting(payload.readUInt16BE(at), payload.readUInt32BE(at + 2));
    this.writeFrame(FRAME_SETTINGS, FLAG_ACK, 0);
    if (!this.gotSettings) {
      this.gotSettings = true;
      this.onRemoteSettings();
    }
    this.openWaiting();
    this.flushData();
  }

  private setting(id: number, value: number): void {
    switch (id) {
      case SETTINGS_HEADER_TABLE_SIZE:
        return this.encoder.setPeerTableSize(value);
      case SETTINGS_ENABLE_PUSH:
        if (value > 1) throw new H2ConnectionError(PROTOCOL_ERROR, "ENABLE_PUSH");
        return;
      case SETTINGS_MAX_CONCURRENT_STREAMS:
        this.peerMaxStreams = value;
        return;
      case SETTINGS_INITIAL_WINDOW_SIZE:
        return this.setInitialWindow(value);
      case SETTINGS_MAX_FRAME_SIZE:
        return this.setMaxFrame(value);
    }
  }

  /** A new initial window moves every stream's send window by the difference (§6.9.2). */
  private setInitialWindow(value: number): void {
    if (value > MAX_WINDOW) throw new H2ConnectionError(FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE");
    const delta = value - this.peerInitialWindow;
    this.peerInitialWindow = value;
    for (const s of this.streams.values()) s.sendWindow += delta;
    for (const s of this.waiting) s.sendWindow += delta;
  }

  private setMaxFrame(value: number): void {
    if (value < DEFAULT_MAX_FRAME_SIZE || value > 0xffffff)
      throw new H2ConnectionError(PROTOCOL_ERROR, "MAX_FRAME_SIZE");
    this.peerMaxFrame = value;
  }

  /** @internal */
  ping(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new H2ConnectionError(PROTOCOL_ERROR, "PING on a stream");
    if (payload.length !== 8) throw new H2ConnectionError(FRAME_SIZE_ERROR, "PING size");
    if ((flags & FLAG_ACK) === 0) this.writeFrame(FRAME_PING, FLAG_ACK, 0, payload);
  }

  /** @internal */
  goaway(streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new H2ConnectionError(PROTOCOL_ERROR, "GOAWAY on a stream");
    if (payload.length < 8) throw new H2ConnectionError(FRAME_SIZE_ERROR, "GOAWAY size");
    const last = payload.readUInt32BE(0) & 0x7fffffff;
    const wasGoingAway = this.goingAway;
    this.goingAway = true;
    // Streams this side opened above `last` were not processed: they may be retried elsewhere.
    if (this.role === "client") {
      for (const s of this.streams.values()) if (s.id > last) this.closeStream(s, REFUSED_STREAM);
      for (const s of [...this.waiting]) this.closeStream(s, REFUSED_STREAM);
    }
    if (!wasGoingAway) this.onGoaway();
    this.endWhenIdle();
  }

  /** @internal */
  windowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new H2ConnectionError(FRAME_SIZE_ERROR, "WINDOW_UPDATE size");
    const inc = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (inc === 0) throw new H2ConnectionError(PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
      this.connSendWindow += inc;
      if (this.connSendWindow > MAX_WINDOW)
        throw new H2ConnectionError(FLOW_CONTROL_ERROR, "connection window overflow");
    } else {
      const s = this.streams.get(streamId);
      if (s === undefined) return this.unknownStream(streamId);
      if (inc === 0) return s.reset(PROTOCOL_ERROR);
      s.sendWindow += inc;
      if (s.sendWindow > MAX_WINDOW) return s.reset(FLOW_CONTROL_ERROR);
      if (s.queued > 0) this.schedule(s);
    }
    this.flushData();
  }
}

type FrameHandler = (session: H2Session, flags: number, streamId: number, payload: Buffer) => void;

const FRAME_HANDLERS: Partial<Record<number, FrameHandler>> = {
  [FRAME_DATA]: (s, flags, id, payload) => s.paddedData(flags, id, payload),
  [FRAME_HEADERS]: (s, flags, id, payload) => s.headersFrame(flags, id, payload),
  [FRAME_CONTINUATION]: (s, flags, id, payload) => s.continuation(flags, id, payload),
  [FRAME_RST_STREAM]: (s, _flags, id, payload) => s.rstStream(id, payload),
  [FRAME_SETTINGS]: (s, flags, id, payload) => s.settings(flags, id, payload),
  [FRAME_PING]: (s, flags, id, payload) => s.ping(flags, id, payload),
  [FRAME_GOAWAY]: (s, _flags, id, payload) => s.goaway(id, payload),
  [FRAME_WINDOW_UPDATE]: (s, _flags, id, payload) => s.windowUpdate(id, payload),
  [FRAME_PUSH_PROMISE]: () => {
    throw new H2ConnectionError(PROTOCOL_ERROR, "PUSH_PROMISE with push disabled");
  },
  [FRAME_PRIORITY]: (_s, _flags, id) => {
    if (id === 0) throw new H2ConnectionError(PROTOCOL_ERROR, "PRIORITY on stream 0");
  },
};

/** src[from, from + n) to dst at `at`: a plain loop beats Buffer#copy's native call for a few bytes. */
function copySmall(src: Buffer, from: number, n: number, dst: Buffer, at: number): void {
  if (n > 64) {
    src.copy(dst, at, from, from + n);
    return;
  }
  for (let i = 0; i < n; i++) dst[at + i] = src[from + i];
}

function flushSession(session: H2Session): void {
  session.flush();
}

function isInterim(headers: HeaderList): boolean {
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i] === ":status") return headers[i + 1].length === 3 && headers[i + 1][0] === "1";
  return false;
}
