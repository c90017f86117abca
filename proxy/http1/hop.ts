// Hop-by-hop fields (RFC 9110 §7.6.1): Connection and the fields it lists, Keep-Alive,
// Proxy-Connection, TE and Upgrade belong to one connection and are not forwarded as such. The
// proxy re-adds what the next hop needs: `connection: upgrade` for an upgrade it relays, and
// `connection: close` / `keep-alive` to say what it will do with the client connection.
// Transfer-Encoding stays because bodies are relayed in the framing they arrived in.

import { headFields, type Head } from "./head";

const ALWAYS = new Set(["connection", "keep-alive", "proxy-connection", "upgrade"]);

export function isHopByHop(
  name: string,
  value: string,
  listed: readonly string[] | undefined,
): boolean {
  const lower = name.toLowerCase();
  if (ALWAYS.has(lower)) return true;
  if (lower === "te") return value.toLowerCase() !== "trailers";
  return listed !== undefined && listed.includes(lower);
}

function appendFields(out: string, head: Head): string {
  const f = headFields(head);
  for (let i = 0; i < f.length; i += 2) {
    if (isHopByHop(f[i], f[i + 1], head.connectionListed)) continue;
    if (head.conflictingLength && f[i].toLowerCase() === "content-length") continue;
    out += `${f[i]}: ${f[i + 1]}\r\n`;
  }
  return out;
}

/** Whether the upstream should see this request as an upgrade it may accept. */
export function wantsUpgrade(head: Head): boolean {
  return head.upgrade !== undefined && head.connectionUpgrade;
}

/** The request head to send upstream, keeping the upstream connection persistent where possible. */
export function rewriteRequestHead(head: Head): string {
  let out = appendFields(`${head.startLine}\r\n`, head);
  if (wantsUpgrade(head)) out += `upgrade: ${head.upgrade}\r\nconnection: upgrade\r\n`;
  else if (head.versionMinor === 0) out += "connection: keep-alive\r\n";
  return out + "\r\n";
}

export type ClientConnection = "keep-alive" | "close" | "upgrade";

/** The response head to send the client; `conn` is what the proxy will do with that connection. */
export function rewriteResponseHead(
  head: Head,
  conn: ClientConnection,
  clientMinor: number,
): string {
  let out = appendFields(`${head.startLine}\r\n`, head);
  if (conn === "upgrade") out += `upgrade: ${head.upgrade ?? ""}\r\nconnection: upgrade\r\n`;
  else if (conn === "close") out += "connection: close\r\n";
  else if (clientMinor === 0) out += "connection: keep-alive\r\n";
  return out + "\r\n";
}

/** HTTP/1.1 keeps connections open unless told otherwise; HTTP/1.0 only when asked. */
export function clientKeepAlive(request: Head): boolean {
  if (request.connectionClose) return false;
  return request.versionMinor === 1 || request.connectionKeepAlive;
}

/** Whether an upstream connection can serve another request after this response. */
export function upstreamReusable(response: Head): boolean {
  if (response.connectionClose) return false;
  return response.versionMinor === 1 || response.connectionKeepAlive;
}
