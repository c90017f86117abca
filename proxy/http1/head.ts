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
  /** Fields as received, flattened: name, value, name, value... */
  readonly fields: string[];
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
}

export class HeadError extends Error {
  constructor(readonly detail: string) {
    super(detail);
    this.name = "HeadError";
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_CONTROL = /\0|\r(?!\n)|(?<!\r)\n/;
const REQUEST_VERSION = /^HTTP\/1\.([01])$/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;
const TARGET = /^[\x21-\x7e]+$/;

class HeadBuilder {
  startLine = "";
  method = "";
  target = "";
  status = 0;
  versionMinor = 1;
  fields: string[] = [];
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
}

/** Parses a head (without its final CRLFCRLF). Throws HeadError on malformed input. */
export function parseHead(text: string, isRequest: boolean): Head {
  if (BAD_CONTROL.test(text)) throw new HeadError("bare CR, LF or NUL in head");
  const lines = text.split("\r\n");
  const head = new HeadBuilder();
  head.startLine = lines[0];
  if (isRequest) parseRequestLine(lines[0], head);
  else parseStatusLine(lines[0], head);
  for (let i = 1; i < lines.length; i++) parseField(lines[i], head);
  if (isRequest) checkRequest(head);
  return head;
}

function parseRequestLine(line: string, head: HeadBuilder): void {
  const parts = line.split(" ");
  if (parts.length !== 3 || !TOKEN.test(parts[0]) || !TARGET.test(parts[1])) {
    throw new HeadError("malformed request line");
  }
  const v = REQUEST_VERSION.exec(parts[2]);
  if (v === null) throw new HeadError("unsupported HTTP version");
  head.method = parts[0];
  head.target = parts[1];
  head.versionMinor = v[1] === "1" ? 1 : 0;
}

function parseStatusLine(line: string, head: HeadBuilder): void {
  const m = STATUS_LINE.exec(line);
  if (m === null) throw new HeadError("malformed status line");
  head.versionMinor = m[1] === "1" ? 1 : 0;
  head.status = Number(m[2]);
  if (head.status < 100) throw new HeadError("malformed status code");
}

function parseField(line: string, head: HeadBuilder): void {
  const colon = line.indexOf(":");
  if (colon <= 0) throw new HeadError("malformed header field");
  const name = line.slice(0, colon);
  if (!TOKEN.test(name)) throw new HeadError("malformed header field name");
  const value = line.slice(colon + 1).trim();
  head.fields.push(name, value);
  const special = name.length <= 17 ? SPECIAL.get(name.toLowerCase()) : undefined;
  if (special !== undefined) special(value, head);
}

/** Fields that affect framing or forwarding, by lower-case name. */
type FieldHandler = (value: string, head: HeadBuilder) => void;

const HANDLERS: Record<string, FieldHandler> = {
  "content-length": (value, head) => {
    if (!/^\d{1,15}$/.test(value)) throw new HeadError("invalid content-length");
    const n = Number(value);
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
    for (const raw of value.split(",")) connectionToken(raw.trim().toLowerCase(), head);
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
