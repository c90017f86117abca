// l5d-client-id on inbound HTTP/1 requests: the app sees the verified client identity, and never
// one the client wrote itself. Only heads that need it are rewritten; the rest stay verbatim.

import { CLIENT_ID_HEADER } from "../tls/inbound-policy";
import type { Head } from "./head";

const CLIENT_SENT = /(^|\n)l5d-client-id[ \t]*:/i;

/** The client identity of an inbound connection; undefined when it is not verified. */
export interface InboundPeer {
  readonly clientId: string | undefined;
}

/**
 * Whether the head must be rewritten: an identity to add, or a client-sent field to remove.
 * `peer` is null outbound, where the field passes untouched.
 */
export function clientIdRewriteNeeded(head: Head, peer: InboundPeer | null): boolean {
  if (peer === null) return false;
  return peer.clientId !== undefined || CLIENT_SENT.test(head.text);
}

/** `wire` (a whole head ending in CRLFCRLF) without any l5d-client-id, plus the verified one. */
export function withClientId(wire: string, peer: InboundPeer): string {
  const lines = wire.slice(0, -4).split("\r\n");
  const kept = lines.filter((l, i) => i === 0 || !CLIENT_SENT.test(l));
  if (peer.clientId !== undefined) kept.push(`${CLIENT_ID_HEADER}: ${peer.clientId}`);
  return `${kept.join("\r\n")}\r\n\r\n`;
}
