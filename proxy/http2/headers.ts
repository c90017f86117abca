// Header handling for HTTP/2 forwarding: connection-specific fields are not allowed in HTTP/2
// (RFC 9113 §8.2.2), so they are dropped; `te` survives only as `trailers`.

import type {
  IncomingHttpHeaders,
  IncomingHttpStatusHeader,
  OutgoingHttpHeaders,
} from "node:http2";

const CONNECTION_SPECIFIC = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "host",
]);

export function forwardHeaders(
  headers: IncomingHttpHeaders | (IncomingHttpHeaders & IncomingHttpStatusHeader),
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (CONNECTION_SPECIFIC.has(name)) continue;
    const value = headers[name];
    if (name === "te" && value !== "trailers") continue;
    out[name] = value;
  }
  return out;
}

export function isGrpc(headers: IncomingHttpHeaders): boolean {
  const ct = headers["content-type"];
  return typeof ct === "string" && ct.startsWith("application/grpc");
}

/** The grpc-status of a finished gRPC response, from trailers or (trailers-only) headers; -1 if none. */
export function grpcStatusOf(...sources: (IncomingHttpHeaders | undefined)[]): number {
  for (const h of sources) {
    const v = h?.["grpc-status"];
    if (typeof v === "string" && /^\d+$/.test(v)) return Number(v);
  }
  return -1;
}
