// Message body framing: finds where a body ends without copying or re-encoding it, so body bytes
// are forwarded exactly as received (chunk extensions and trailers included).

import type { Head } from "./head";

export type Framing = "none" | "length" | "chunked" | "close" | "tunnel";

export class FramingError extends Error {
  constructor(readonly detail: string) {
    super(detail);
    this.name = "FramingError";
  }
}

/** RFC 9112 §6.3 for requests: chunked, content-length, or no body. */
export function requestFraming(head: Head): Framing {
  if (head.chunked) return "chunked";
  return head.contentLength > 0 ? "length" : "none";
}

/**
 * RFC 9112 §6.3 for responses; `method` is the request's. A 101 becomes a tunnel only when the
 * client asked for an upgrade; otherwise it is read until the upstream closes.
 */
export function responseFraming(method: string, head: Head, upgradeRequested = true): Framing {
  const status = head.status;
  if (status === 101) return upgradeRequested ? "tunnel" : "close";
  if (method === "CONNECT" && status >= 200 && status < 300) return "tunnel";
  if (hasNoBody(method, status)) return "none";
  return bodyFraming(head);
}

function bodyFraming(head: Head): Framing {
  if (head.hasTransferEncoding) return head.chunked ? "chunked" : "close";
  if (head.contentLength >= 0) return head.contentLength > 0 ? "length" : "none";
  return "close";
}

function hasNoBody(method: string, status: number): boolean {
  return method === "HEAD" || status < 200 || status === 204 || status === 304;
}

const SIZE = 0;
const EXT = 1;
const SIZE_LF = 2;
const DATA = 3;
const DATA_CR = 4;
const DATA_LF = 5;
const LINE_START = 6;
const TRAILER = 7;
const TRAILER_LF = 8;
const FINAL_LF = 9;

const MAX_SIZE_DIGITS = 13;

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const lower = b | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/** Tracks one body's end. Reset per message; `consume` says how many bytes are body. */
export class BodyFramer {
  framing: Framing = "none";
  done = true;
  private remaining = 0;
  private state = SIZE;
  private digits = 0;

  reset(framing: Framing, length: number): void {
    this.framing = framing;
    this.remaining = framing === "length" ? length : 0;
    this.state = SIZE;
    this.digits = 0;
    this.done = framing === "none" || (framing === "length" && length === 0);
  }

  /** How many bytes of `buf` from `offset` belong to the body; throws FramingError when malformed. */
  consume(buf: Buffer, offset: number): number {
    const avail = buf.length - offset;
    if (this.done || this.framing === "none") return 0;
    if (this.framing === "close" || this.framing === "tunnel") return avail;
    if (this.framing === "length") {
      const n = avail < this.remaining ? avail : this.remaining;
      this.remaining -= n;
      this.done = this.remaining === 0;
      return n;
    }
    return this.consumeChunked(buf, offset);
  }

  private consumeChunked(buf: Buffer, offset: number): number {
    let i = offset;
    const len = buf.length;
    while (i < len && !this.done) {
      if (this.state === DATA) {
        const n = len - i < this.remaining ? len - i : this.remaining;
        i += n;
        this.remaining -= n;
        if (this.remaining === 0) this.state = DATA_CR;
      } else {
        this.byte(buf[i]);
        i++;
      }
    }
    return i - offset;
  }

  private byte(b: number): void {
    if (this.state <= SIZE_LF) this.sizeByte(b);
    else if (this.state <= DATA_LF) this.dataEndByte(b);
    else this.trailerByte(b);
  }

  private sizeByte(b: number): void {
    if (this.state === SIZE_LF) {
      if (b !== 0x0a) throw new FramingError("expected LF after chunk size");
      this.state = this.remaining === 0 ? LINE_START : DATA;
      return;
    }
    if (b === 0x0d) return this.endSizeLine();
    if (this.state === EXT) return this.extByte(b);
    this.sizeDigit(b);
  }

  private sizeDigit(b: number): void {
    const v = hexValue(b);
    if (v >= 0 && this.digits < MAX_SIZE_DIGITS) {
      this.remaining = this.remaining * 16 + v;
      this.digits++;
    } else if ((b === 0x3b || b === 0x20 || b === 0x09) && this.digits > 0) {
      this.state = EXT;
    } else {
      throw new FramingError("invalid chunk size");
    }
  }

  private endSizeLine(): void {
    if (this.digits === 0) throw new FramingError("empty chunk size");
    this.state = SIZE_LF;
  }

  private extByte(b: number): void {
    if (b === 0x0a || b === 0) throw new FramingError("invalid chunk extension");
  }

  private dataEndByte(b: number): void {
    if (this.state === DATA_CR && b === 0x0d) this.state = DATA_LF;
    else if (this.state === DATA_LF && b === 0x0a) {
      this.state = SIZE;
      this.digits = 0;
      this.remaining = 0;
    } else throw new FramingError("expected CRLF after chunk data");
  }

  private trailerByte(b: number): void {
    switch (this.state) {
      case LINE_START:
        this.state = b === 0x0d ? FINAL_LF : TRAILER;
        return;
      case TRAILER:
        if (b === 0x0d) this.state = TRAILER_LF;
        else if (b === 0x0a) throw new FramingError("bare LF in trailer");
        return;
      case TRAILER_LF:
        if (b !== 0x0a) throw new FramingError("expected LF in trailer");
        this.state = LINE_START;
        return;
      default:
        if (b !== 0x0a) throw new FramingError("expected LF after last chunk");
        this.done = true;
    }
  }
}
