// An incremental HTTP/1.x head parser over Buffers. It finds the end of the head, then parses the
// start line and fields once, recording what framing and forwarding decisions need: body length,
// chunked, Connection tokens, Upgrade, Expect. Anything ambiguous (obs-fold, bare CR/LF, bad
// field names, conflicting lengths) is rejected, because a proxy that guesses enables smuggling.

export interface Head {
  /** The start line as received (request line or status line). */
  readonly startLine: string;
  readonly method: string;
  readonly target: string;
  readonly status: number;
  readonly versionMinor: number;
  /** The head's text without its final CRLFCRLF; `headFields` reads the fields from it. */
  readonly text: string;
  /** -1 when absent. */
  readonly contentLength: number;
  readonly hasTransferEncoding: boolean;
  /** The final transfer coding is chunked. */
  readonly chunked: boolean;
  readonly connectionClose: boolean;
  readonly connectionKeepAlive: boolean;
  readonly connectionUpgrade: boolean;
  /** Other field names listed in Connection (lower case): hop-by-hop, removed when forwarding. */
  readonly connectionListed: string[] | undefined;
  readonly upgrade: string | undefined;
  readonly expectContinue: boolean;
  readonly host: string;
  readonly contentType: string;
  /** A field that must not be forwarded is present, so the head has to be rewritten. */
  readonly hopByHop: boolean;
  /** A response had both Transfer-Encoding and Content-Length: the length is dropped. */
  readonly conflictingLength: boolean;
}

export class HeadError extends Error {
  constructor(readonly detail: string) {
    super(detail);
    this.name = "HeadError";
  }
}

class HeadBuilder {
  startLine = "";
  method = "";
  target = "";
  status = 0;
  versionMinor = 1;
  text = "";
  contentLength = -1;
  hasTransferEncoding = false;
  chunked = false;
  connectionClose = false;
  connectionKeepAlive = false;
  connectionUpgrade = false;
  connectionListed: string[] | undefined = undefined;
  upgrade: string | undefined = undefined;
  expectContinue = false;
  host = "";
  contentType = "";
  hopByHop = false;
  conflictingLength = false;
}

/** Parses a head (without its final CRLFCRLF). Throws HeadError on malformed input. */
export function parseHead(text: string, isRequest: boolean): Head {
  const head = new HeadBuilder();
  head.text = text;
  let end = lineEnd(text, 0);
  const first = text.slice(0, end);
  if (!clean(text, 0, end)) throw new HeadError("bare CR, LF or NUL in head");
  head.startLine = first;
  if (isRequest) parseRequestLine(first, head);
  else parseStatusLine(first, head);
  while (end < text.length) {
    const start = end + 2;
    end = lineEnd(text, start);
    parseField(text, start, end, head);
  }
  if (isRequest) checkRequest(head);
  else if (head.hasTransferEncoding && head.contentLength !== -1) {
    // RFC 9112 §6.3: Transfer-Encoding wins, and Content-Length must not be passed on with it.
    head.conflictingLength = true;
    head.hopByHop = true;
  }
  return head;
}

function lineEnd(text: string, from: number): number {
  const end = text.indexOf("\r\n", from);
  return end === -1 ? text.length : end;
}

/** No CR, LF or NUL in text[from, to): after splitting on CRLF any of them is malformed. */
function clean(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 13 || c === 10 || c === 0) return false;
  }
  return true;
}

/** `METHOD SP request-target SP HTTP/1.x`, read by position. */
function parseRequestLine(line: string, head: HeadBuilder): void {
  const sp1 = line.indexOf(" ");
  const sp2 = line.indexOf(" ", sp1 + 1);
  const method = line.slice(0, Math.max(sp1, 0));
  const target = line.slice(sp1 + 1, sp2);
  if (sp1 <= 0 || sp2 <= sp1 + 1 || !isToken(method) || !isVisible(target)) {
    throw new HeadError("malformed request line");
  }
  const minor = line.charCodeAt(sp2 + 8) - 0x30;
  if (
    line.length !== sp2 + 9 ||
    !line.startsWith("HTTP/1.", sp2 + 1) ||
    (minor !== 0 && minor !== 1)
  ) {
    throw new HeadError("unsupported HTTP version");
  }
  head.method = method;
  head.target = target;
  head.versionMinor = minor;
}

function isVisible(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** `HTTP/1.x NNN[ reason]`, read by position. */
function parseStatusLine(line: string, head: HeadBuilder): void {
  const minor = line.charCodeAt(7) - 0x30;
  const ok =
    line.startsWith("HTTP/1.") && (minor === 0 || minor === 1) && line.charCodeAt(8) === 0x20;
  const status = ok ? digits(line, 9, 12) : -1;
  if (status < 100 || (line.length > 12 && line.charCodeAt(12) !== 0x20)) {
    throw new HeadError("malformed status line");
  }
  head.versionMinor = minor;
  head.status = status;
}

/** The decimal number in text[from, to), or -1 when it is empty or not all digits. */
function digits(text: string, from: number, to: number): number {
  if (to > text.length || to <= from) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** Checks the field in text[start, end); only fields that matter are copied out of the text. */
function parseField(text: string, start: number, end: number, head: HeadBuilder): void {
  const colon = text.indexOf(":", start);
  if (colon <= start || colon >= end) throw new HeadError("malformed header field");
  if (!tokenAt(text, start, colon)) throw new HeadError("malformed header field name");
  if (!clean(text, colon + 1, end)) throw new HeadError("bare CR, LF or NUL in head");
  // Only names as long as a special one are lower-cased and looked up.
  if (SPECIAL_LENGTHS[colon - start] !== 1) return;
  const special = SPECIAL.get(text.slice(start, colon).toLowerCase());
  if (special !== undefined) special(text.slice(colon + 1, end).trim(), head);
}

/** The fields of a head as [name, value, name, value...], read again from its text. */
export function headFields(head: Head): string[] {
  const out: string[] = [];
  const text = head.text;
  let end = lineEnd(text, 0);
  while (end < text.length) {
    const start = end + 2;
    end = lineEnd(text, start);
    const colon = text.indexOf(":", start);
    out.push(text.slice(start, colon), text.slice(colon + 1, end).trim());
  }
  return out;
}

/** RFC 9110 tchar, without a regular expression: this runs for every field of every message. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
  TCHAR[c.charCodeAt(0)] = 1;
}

function isToken(name: string): boolean {
  return tokenAt(name, 0, name.length);
}

function tokenAt(text: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c > 127 || TCHAR[c] === 0) return false;
  }
  return true;
}

/** Fields that affect framing or forwarding, by lower-case name. */
type FieldHandler = (value: string, head: HeadBuilder) => void;

const HANDLERS: Record<string, FieldHandler> = {
  "content-length": (value, head) => {
    const n = value.length > 15 ? -1 : digits(value, 0, value.length);
    if (n < 0) throw new HeadError("invalid content-length");
    if (head.contentLength !== -1 && head.contentLength !== n)
      throw new HeadError("conflicting content-length");
    head.contentLength = n;
  },
  "transfer-encoding": (value, head) => {
    head.hasTransferEncoding = true;
    const codings = value.toLowerCase().split(",");
    head.chunked = codings[codings.length - 1].trim() === "chunked";
  },
  connection: (value, head) => {
    const lower = value.toLowerCase();
    if (lower === "keep-alive") head.connectionKeepAlive = true;
    else for (const raw of lower.split(",")) connectionToken(raw.trim(), head);
  },
  "keep-alive": (_v, head) => {
    head.hopByHop = true;
  },
  "proxy-connection": (_v, head) => {
    head.hopByHop = true;
  },
  te: (value, head) => {
    // "TE: trailers" stays meaningful because chunked bodies are relayed with their trailers.
    if (value.toLowerCase() !== "trailers") head.hopByHop = true;
  },
  upgrade: (value, head) => {
    head.upgrade = value;
    head.hopByHop = true;
  },
  expect: (value, head) => {
    head.expectContinue = value.toLowerCase() === "100-continue";
  },
  host: (value, head) => {
    if (head.host !== "") throw new HeadError("more than one host field");
    head.host = value;
  },
  "content-type": (value, head) => {
    head.contentType = value;
  },
};
const SPECIAL: ReadonlyMap<string, FieldHandler> = new Map(Object.entries(HANDLERS));
const SPECIAL_LENGTHS = new Uint8Array(32);
for (const name of SPECIAL.keys()) SPECIAL_LENGTHS[name.length] = 1;

function connectionToken(token: string, head: HeadBuilder): void {
  if (token === "") return;
  if (token === "keep-alive") {
    head.connectionKeepAlive = true;
    return;
  }
  head.hopByHop = true;
  if (token === "close") head.connectionClose = true;
  else if (token === "upgrade") head.connectionUpgrade = true;
  else (head.connectionListed ??= []).push(token);
}

function checkRequest(head: HeadBuilder): void {
  if (head.hasTransferEncoding && head.contentLength !== -1) {
    throw new HeadError("both transfer-encoding and content-length");
  }
  if (head.hasTransferEncoding && !head.chunked)
    throw new HeadError("transfer-encoding is not chunked");
  if (head.versionMinor === 1 && head.host === "") throw new HeadError("missing host");
}

const TERMINATOR = Buffer.from("\r\n\r\n", "latin1");
const EMPTY = Buffer.alloc(0);

/**
 * Accumulates bytes until a head's terminating CRLFCRLF. `push` returns the offset just past the
 * terminator in `buffer`, or -1 while incomplete; throws HeadError when the head grows too large.
 */
export class HeadReader {
  buffer: Buffer = EMPTY;

  constructor(private readonly maxSize: number) {}

  push(chunk: Buffer): number {
    const from = Math.max(0, this.buffer.length - 3);
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const at = this.buffer.indexOf(TERMINATOR, from);
    if (at === -1) {
      if (this.buffer.length > this.maxSize) throw new HeadError("head too large");
      return -1;
    }
    if (at > this.maxSize) throw new HeadError("head too large");
    return at + 4;
  }

  /** The head's text (without the terminator) once push returned `end`. */
  text(end: number): string {
    return this.buffer.toString("latin1", 0, end - 4);
  }

  /** Bytes after the head, and forget the head. */
  take(end: number): Buffer {
    const rest = this.buffer.subarray(end);
    this.buffer = EMPTY;
    return rest;
  }
}
