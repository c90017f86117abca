// HTTP/2 framing (RFC 9113 §4, §6): the frame reader over a byte stream and the frame builders.
// DATA payloads are handed on as slices of the chunks read, piece by piece as they arrive, so a
// body is never copied on its way through; every other frame is delivered whole.

export const FRAME_DATA = 0x0;
export const FRAME_HEADERS = 0x1;
export const FRAME_PRIORITY = 0x2;
export const FRAME_RST_STREAM = 0x3;
export const FRAME_SETTINGS = 0x4;
export const FRAME_PUSH_PROMISE = 0x5;
export const FRAME_PING = 0x6;
export const FRAME_GOAWAY = 0x7;
export const FRAME_WINDOW_UPDATE = 0x8;
export const FRAME_CONTINUATION = 0x9;

export const FLAG_END_STREAM = 0x1;
export const FLAG_ACK = 0x1;
export const FLAG_END_HEADERS = 0x4;
export const FLAG_PADDED = 0x8;
export const FLAG_PRIORITY = 0x20;

/** Error codes (RFC 9113 §7). */
export const NO_ERROR = 0x0;
export const PROTOCOL_ERROR = 0x1;
export const INTERNAL_ERROR = 0x2;
export const FLOW_CONTROL_ERROR = 0x3;
export const STREAM_CLOSED = 0x5;
export const FRAME_SIZE_ERROR = 0x6;
export const REFUSED_STREAM = 0x7;
export const CANCEL = 0x8;
export const COMPRESSION_ERROR = 0x9;
export const ENHANCE_YOUR_CALM = 0xb;

export const SETTINGS_HEADER_TABLE_SIZE = 0x1;
export const SETTINGS_ENABLE_PUSH = 0x2;
export const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
export const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
export const SETTINGS_MAX_FRAME_SIZE = 0x5;
export const SETTINGS_MAX_HEADER_LIST_SIZE = 0x6;

export const CLIENT_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
export const DEFAULT_MAX_FRAME_SIZE = 16384;
export const DEFAULT_WINDOW = 65535;
export const MAX_WINDOW = 0x7fffffff;

const HEADER_SIZE = 9;

/** A connection error: the session sends GOAWAY with `code` and closes. */
export class H2ConnectionError extends Error {
  readonly code = "WEFT_ERR_H2_PROTOCOL";
  constructor(
    readonly h2code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Where the reader delivers frames. */
export interface FrameSink {
  /** A whole frame other than an unpadded DATA frame (a padded one comes here, padding and all). */
  frame(type: number, flags: number, streamId: number, payload: Buffer): void;
  /** A piece of an unpadded DATA frame; `endStream` only on the frame's last piece. */
  data(streamId: number, chunk: Buffer, endStream: boolean): void;
}

const enum ReadState {
  Header,
  Payload,
  Data,
}

/** Splits a byte stream into frames; throws H2ConnectionError on an oversized frame. */
export class FrameReader {
  private state = ReadState.Header;
  private readonly header = Buffer.allocUnsafe(HEADER_SIZE);
  private headerHave = 0;
  private type = 0;
  private flags = 0;
  private streamId = 0;
  private remaining = 0;
  private parts: Buffer[] = [];
  private partsHave = 0;

  constructor(
    private readonly sink: FrameSink,
    private readonly maxFrameSize = DEFAULT_MAX_FRAME_SIZE,
  ) {}

  push(chunk: Buffer): void {
    let off = 0;
    const len = chunk.length;
    while (off < len || (this.state !== ReadState.Header && this.remaining === 0)) {
      if (this.state === ReadState.Header) off = this.readHeader(chunk, off);
      else if (this.state === ReadState.Data) off = this.readData(chunk, off);
      else off = this.readPayload(chunk, off);
    }
  }

  private readHeader(chunk: Buffer, off: number): number {
    let h: Buffer;
    if (this.headerHave === 0 && chunk.length - off >= HEADER_SIZE) {
      h = chunk;
    } else {
      const n = Math.min(HEADER_SIZE - this.headerHave, chunk.length - off);
      chunk.copy(this.header, this.headerHave, off, off + n);
      this.headerHave += n;
      if (this.headerHave < HEADER_SIZE) return off + n;
      h = this.header;
      off += n - HEADER_SIZE;
    }
    const at = h === chunk ? off : 0;
    const length = h.readUIntBE(at, 3);
    this.type = h[at + 3];
    this.flags = h[at + 4];
    this.streamId = h.readUInt32BE(at + 5) & 0x7fffffff;
    this.headerHave = 0;
    if (length > this.maxFrameSize)
      throw new H2ConnectionError(FRAME_SIZE_ERROR, `frame of ${length} bytes`);
    this.remaining = length;
    const streamed = this.type === FRAME_DATA && (this.flags & FLAG_PADDED) === 0;
    this.state = streamed ? ReadState.Data : ReadState.Payload;
    return off + HEADER_SIZE;
  }

  private readData(chunk: Buffer, off: number): number {
    const n = Math.min(this.remaining, chunk.length - off);
    this.remaining -= n;
    const last = this.remaining === 0;
    if (last) this.state = ReadState.Header;
    // An empty piece is only delivered as a whole empty frame (END_STREAM alone, say).
    if (n > 0 || last) {
      const piece = n === chunk.length ? chunk : chunk.subarray(off, off + n);
      this.sink.data(this.streamId, piece, last && (this.flags & FLAG_END_STREAM) !== 0);
    }
    return off + n;
  }

  private readPayload(chunk: Buffer, off: number): number {
    // The usual case, a whole frame within one read, is handed on without gathering.
    if (this.partsHave === 0 && chunk.length - off >= this.remaining) {
      const end = off + this.remaining;
      this.remaining = 0;
      this.state = ReadState.Header;
      this.sink.frame(this.type, this.flags, this.streamId, chunk.subarray(off, end));
      return end;
    }
    const n = Math.min(this.remaining, chunk.length - off);
    if (n > 0) {
      this.parts.push(chunk.subarray(off, off + n));
      this.partsHave += n;
      this.remaining -= n;
    }
    if (this.remaining > 0) return off + n;
    const payload =
      this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.partsHave);
    this.parts = [];
    this.partsHave = 0;
    this.state = ReadState.Header;
    this.sink.frame(this.type, this.flags, this.streamId, payload);
    return off + n;
  }
}

/** A frame's 9-byte header written into `out` at `at`. */
export function writeFrameHeader(
  out: Buffer,
  at: number,
  length: number,
  type: number,
  flags: number,
  streamId: number,
): void {
  out[at] = length >>> 16;
  out[at + 1] = (length >>> 8) & 0xff;
  out[at + 2] = length & 0xff;
  out[at + 3] = type;
  out[at + 4] = flags;
  out[at + 5] = streamId >>> 24;
  out[at + 6] = (streamId >>> 16) & 0xff;
  out[at + 7] = (streamId >>> 8) & 0xff;
  out[at + 8] = streamId & 0xff;
}

/** A whole frame with `payload` copied after its header (for small frames). */
export function frame(type: number, flags: number, streamId: number, payload?: Buffer): Buffer {
  const length = payload?.length ?? 0;
  const out = Buffer.allocUnsafe(HEADER_SIZE + length);
  writeFrameHeader(out, 0, length, type, flags, streamId);
  if (payload !== undefined) payload.copy(out, HEADER_SIZE);
  return out;
}

export function settingsFrame(settings: readonly (readonly [number, number])[]): Buffer {
  const payload = Buffer.allocUnsafe(settings.length * 6);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(FRAME_SETTINGS, 0, 0, payload);
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE + 4);
  writeFrameHeader(out, 0, 4, FRAME_WINDOW_UPDATE, 0, streamId);
  out.writeUInt32BE(increment, HEADER_SIZE);
  return out;
}

export function goawayFrame(lastStreamId: number, code: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE + 8);
  writeFrameHeader(out, 0, 8, FRAME_GOAWAY, 0, 0);
  out.writeUInt32BE(lastStreamId, HEADER_SIZE);
  out.writeUInt32BE(code, HEADER_SIZE + 4);
  return out;
}

/** The payload of a PADDED frame without its pad length and padding; throws when malformed. */
export function unpad(payload: Buffer, flags: number): Buffer {
  if ((flags & FLAG_PADDED) === 0) return payload;
  if (payload.length < 1) throw new H2ConnectionError(PROTOCOL_ERROR, "padded frame too short");
  const pad = payload[0];
  if (pad >= payload.length) throw new H2ConnectionError(PROTOCOL_ERROR, "padding too long");
  return payload.subarray(1, payload.length - pad);
}
