// Header handling for HTTP/2 forwarding: connection-specific fields are not allowed in HTTP/2
// (RFC 9113 §8.2.2), so they are dropped; `te` survives only as `trailers`.

import type { HeaderList } from "./hpack";

const CONNECTION_SPECIFIC = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "host",
]);

/** The fields of `headers` that may be forwarded; the same list when all may. */
export function forwardHeaders(headers: HeaderList): HeaderList {
  for (let i = 0; i < headers.length; i += 2) {
    if (!forwardable(headers[i], headers[i + 1])) return headers.filter(keptAt(headers));
  }
  return headers;
}

function forwardable(name: string, value: string): boolean {
  if (name === "te") return value === "trailers";
  return !CONNECTION_SPECIFIC.has(name);
}

function keptAt(headers: HeaderList): (_: string, i: number) => boolean {
  return (_, i) => {
    const at = i - (i & 1);
    return forwardable(headers[at], headers[at + 1]);
  };
}

/** The first value of `name`, or undefined. */
export function headerValue(headers: HeaderList | undefined, name: string): string | undefined {
  if (headers === undefined) return undefined;
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
}

/** Removes every `name` field from `headers` (in place), then adds `name: value` if given. */
export function setHeader(
  headers: HeaderList,
  name: string,
  value: string | undefined,
): HeaderList {
  let to = 0;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === name) continue;
    if (to !== i) {
      headers[to] = headers[i];
      headers[to + 1] = headers[i + 1];
    }
    to += 2;
  }
  headers.length = to;
  if (value !== undefined) headers.push(name, value);
  return headers;
}

export function isGrpc(headers: HeaderList): boolean {
  const ct = headerValue(headers, "content-type");
  return ct !== undefined && ct.startsWith("application/grpc");
}

/** The grpc-status of a finished gRPC response, from trailers or (trailers-only) headers; -1 if none. */
export function grpcStatusOf(...sources: (HeaderList | undefined)[]): number {
  for (const h of sources) {
    const v = headerValue(h, "grpc-status");
    if (v !== undefined && /^\d+$/.test(v)) return Number(v);
  }
  return -1;
}
