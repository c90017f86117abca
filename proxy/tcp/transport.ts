// Opaque transport between meshed proxies. Outbound, opaque traffic to a meshed endpoint goes to
// the peer's inbound port inside mTLS (ALPN transport.l5d.io/v1), prefixed by a transport header
// that names the endpoint's port; inbound, the header is read after termination and the stream
// is forwarded to the application on loopback at that port.

import type { Socket } from "node:net";
import { ProxyError } from "../errors";
import type { Endpoint } from "../route/resolver";
import {
  TRANSPORT_HEADER_ALPN,
  decodeTransportHeader,
  encodeTransportHeader,
} from "../tls/transport-header";

/** Where an opaque stream to a meshed endpoint is sent, and what goes first. */
export interface TransportPlan {
  readonly port: number;
  readonly alpn: readonly string[];
  readonly preamble: Buffer;
}

/** A transport plan when the endpoint is meshed and advertises an inbound port, else undefined. */
export function transportPlan(
  endpoint: Endpoint,
  identity: string | undefined,
): TransportPlan | undefined {
  const inbound = endpoint.opaqueTransportPort;
  if (identity === undefined || inbound === undefined) return undefined;
  return {
    port: inbound,
    alpn: [TRANSPORT_HEADER_ALPN],
    preamble: encodeTransportHeader({ port: endpoint.port, name: "", sessionProtocol: undefined }),
  };
}

/** Whether a terminated connection negotiated the opaque transport. */
export function negotiatedTransport(socket: Socket): boolean {
  return (
    (socket as Socket & { alpnProtocol?: string | false }).alpnProtocol === TRANSPORT_HEADER_ALPN
  );
}

export type HeaderResult = { port: number; rest: Buffer } | ProxyError;

function headerError(detail: string): ProxyError {
  return new ProxyError("WEFT_ERR_BAD_REQUEST", `transport header: ${detail}`);
}

/** Outcome of the bytes read so far: a result, or undefined to keep reading. */
function decodeSoFar(buf: Buffer): HeaderResult | undefined {
  const d = decodeTransportHeader(buf);
  if (d.kind === "incomplete") return undefined;
  if (d.kind === "absent") return headerError("missing");
  if (d.kind === "invalid") return headerError(d.reason);
  const port = d.header.port;
  if (!(port >= 1 && port <= 65535)) return headerError(`bad port ${port}`);
  return { port, rest: buf.subarray(d.consumed) };
}

/** Reads the transport header at the start of `socket`; the socket is left paused. */
export function readTransportHeader(
  socket: Socket,
  timeoutMs: number,
  done: (r: HeaderResult) => void,
): void {
  let buf = Buffer.alloc(0);
  const finish = (r: HeaderResult): void => {
    clearTimeout(timer);
    socket.removeListener("data", onData);
    socket.removeListener("end", onEnd);
    socket.pause();
    done(r);
  };
  const onData = (chunk: Buffer): void => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const r = decodeSoFar(buf);
    if (r !== undefined) finish(r);
  };
  const onEnd = (): void => finish(headerError("stream ended first"));
  const timer = setTimeout(() => finish(headerError("timed out")), timeoutMs);
  socket.on("data", onData);
  socket.once("end", onEnd);
  socket.resume();
}
