// Protocol detection as a pure function of the first bytes a client sent.

export type Protocol = "http1" | "h2" | "tls" | "opaque";
/** `more` means the bytes so far are a prefix of a known protocol: read more before deciding. */
export type Detection = Protocol | "more";

export const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** An HTTP/1 request line longer than this is not worth waiting for: treat the stream as opaque. */
export const MAX_REQUEST_LINE = 16 * 1024;
const MAX_METHOD = 24;

/** Whether `buf` may begin a TLS handshake record (a ClientHello): its first byte says so. */
export function startsTlsRecord(buf: Buffer): boolean {
  return buf[0] === 0x16;
}

export function classify(buf: Buffer): Detection {
  if (buf.length === 0) return "more";
  if (startsTlsRecord(buf)) return buf.length < 2 ? "more" : buf[1] === 0x03 ? "tls" : "opaque";
  const h2 = prefixOf(buf, H2_PREFACE);
  if (h2 === "yes") return "h2";
  if (h2 === "prefix") return "more";
  return classifyRequestLine(buf);
}

function prefixOf(buf: Buffer, expected: Buffer): "yes" | "prefix" | "no" {
  const n = Math.min(buf.length, expected.length);
  for (let i = 0; i < n; i++) if (buf[i] !== expected[i]) return "no";
  return n === expected.length ? "yes" : "prefix";
}

function isMethodByte(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || b === 0x2d || b === 0x5f; // A-Z - _
}

/** `METHOD SP target SP HTTP/1.x CRLF`, judged incrementally. */
function classifyRequestLine(buf: Buffer): Detection {
  let i = 0;
  while (i < buf.length && i < MAX_METHOD && isMethodByte(buf[i])) i++;
  if (i === buf.length) return i < MAX_METHOD ? "more" : "opaque";
  if (i === 0 || buf[i] !== 0x20) return "opaque";
  return classifyTarget(buf, i + 1);
}

function classifyTarget(buf: Buffer, start: number): Detection {
  let i = start;
  while (i < buf.length && buf[i] > 0x20 && buf[i] !== 0x7f) i++;
  if (i === buf.length) return buf.length < MAX_REQUEST_LINE ? "more" : "opaque";
  if (i === start || buf[i] !== 0x20) return "opaque";
  return classifyVersion(buf, i + 1);
}

const VERSION = Buffer.from("HTTP/1.", "latin1");

function classifyVersion(buf: Buffer, at: number): Detection {
  const rest = buf.subarray(at);
  const prefix = prefixOf(rest, VERSION);
  if (prefix === "no") return "opaque";
  if (prefix === "prefix") return "more";
  if (rest.length < 8) return "more";
  if (rest[7] !== 0x30 && rest[7] !== 0x31) return "opaque";
  if (rest.length < 9) return "more";
  if (rest[8] !== 0x0d) return "opaque";
  if (rest.length < 10) return "more";
  return rest[9] === 0x0a ? "http1" : "opaque";
}
