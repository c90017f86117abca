// The opaque transport header a proxy sends to a meshed peer's inbound port inside mTLS:
// "transport.l5d.io/v1\r\n\r\n", a u32 big-endian length, then the protobuf Header.
import { Header } from "../../api/gen/transport_header";

export const TRANSPORT_PREAMBLE = Buffer.from("transport.l5d.io/v1\r\n\r\n", "latin1");
/** The ALPN protocol a client offers to say a transport header follows the handshake (as linkerd2-proxy does). */
export const TRANSPORT_HEADER_ALPN = "transport.l5d.io/v1";
/** Upper bound on the encoded Header; longer ones are refused. */
export const MAX_HEADER_BYTES = 64 * 1024;

export type DecodedHeader =
  | { kind: "header"; header: Header; consumed: number }
  | { kind: "incomplete" }
  | { kind: "absent" }
  | { kind: "invalid"; reason: string };

export function encodeTransportHeader(header: Header): Buffer {
  const body = Buffer.from(Header.encode(header).finish());
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([TRANSPORT_PREAMBLE, len, body]);
}

function preambleStatus(buf: Buffer): "match" | "prefix" | "mismatch" {
  const n = Math.min(buf.length, TRANSPORT_PREAMBLE.length);
  if (!buf.subarray(0, n).equals(TRANSPORT_PREAMBLE.subarray(0, n))) return "mismatch";
  return n === TRANSPORT_PREAMBLE.length ? "match" : "prefix";
}

/** Decodes a header at the start of `buf`; `consumed` bytes belong to it, the rest is payload. */
export function decodeTransportHeader(buf: Buffer): DecodedHeader {
  const pre = preambleStatus(buf);
  if (pre === "mismatch") return { kind: "absent" };
  const start = TRANSPORT_PREAMBLE.length;
  if (pre === "prefix" || buf.length < start + 4) return { kind: "incomplete" };
  const len = buf.readUInt32BE(start);
  if (len > MAX_HEADER_BYTES)
    return { kind: "invalid", reason: `header of ${len} bytes exceeds ${MAX_HEADER_BYTES}` };
  if (buf.length < start + 4 + len) return { kind: "incomplete" };
  try {
    const header = Header.decode(buf.subarray(start + 4, start + 4 + len));
    return { kind: "header", header, consumed: start + 4 + len };
  } catch (err) {
    return { kind: "invalid", reason: `malformed header: ${String(err)}` };
  }
}
