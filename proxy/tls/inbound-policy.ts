// Inbound decisions that depend on identity: whether a port requires a verified client
// (config.weft.io/proxy-require-identity-inbound-ports), and the l5d-client-id header.
import { parsePortRanges } from "../../api/units";

export const CLIENT_ID_HEADER = "l5d-client-id";

/** "8080,9000-9002" → the set of ports; throws on anything else. */
export function parsePortList(text: string): Set<number> {
  const ports = parsePortRanges(text);
  if (ports === undefined) throw new RangeError(`not a list of ports or port ranges: ${text}`);
  return new Set(ports);
}

export type InboundDecision =
  | { action: "accept"; clientIdentity: string | undefined }
  | { action: "refuse"; reason: string };

/** A connection to `port` is accepted unless the port requires identity and none was verified. */
export function inboundIdentityDecision(
  port: number,
  requireIdentityPorts: ReadonlySet<number>,
  clientIdentity: string | undefined,
): InboundDecision {
  if (clientIdentity === undefined && requireIdentityPorts.has(port)) {
    return { action: "refuse", reason: "unauthenticated" };
  }
  return { action: "accept", clientIdentity };
}

type Headers = Record<string, string | string[] | undefined>;

/** Removes any l5d-client-id the client sent and sets the verified one (if any). */
export function setClientIdHeader(headers: Headers, clientIdentity: string | undefined): Headers {
  const out: Headers = {};
  for (const [k, v] of Object.entries(headers))
    if (k.toLowerCase() !== CLIENT_ID_HEADER) out[k] = v;
  if (clientIdentity !== undefined) out[CLIENT_ID_HEADER] = clientIdentity;
  return out;
}
