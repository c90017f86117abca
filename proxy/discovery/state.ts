/**
 * Pure endpoint-state semantics of a destination stream: the first message of a stream replaces
 * what the client knew; later messages add, remove, or empty the set; duplicates are harmless.
 */
import type { Update, WeightedAddr } from "../../api/gen/destination";
import type { TcpAddress } from "../../api/gen/net";

export interface DiscoveredEndpoint {
  key: string;
  address: string;
  port: number;
  weight: number;
  /** Set-level labels merged with the address's own (the metrics layer prefixes them dst_). */
  labels: Record<string, string>;
  identity: string | undefined;
  protocolHint: "h2" | "opaque" | undefined;
  opaqueTransportPort: number | undefined;
}

export type EndpointState =
  | { kind: "pending" }
  | { kind: "none"; exists: boolean }
  | { kind: "endpoints"; endpoints: ReadonlyMap<string, DiscoveredEndpoint> };

export const PENDING: EndpointState = { kind: "pending" };

function hextets(v: bigint): string[] {
  const out: string[] = [];
  for (let i = 3; i >= 0; i--) out.push(((v >> BigInt(i * 16)) & 0xffffn).toString(16));
  return out;
}

export function addressText(addr: TcpAddress | undefined): string {
  const ip = addr?.ip?.ip;
  if (ip?.$case === "ipv4") {
    const n = ip.ipv4 >>> 0;
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
  }
  if (ip?.$case === "ipv6") return [...hextets(ip.ipv6.first), ...hextets(ip.ipv6.last)].join(":");
  return "";
}

export function keyOf(addr: TcpAddress | undefined): string {
  const ip = addressText(addr);
  return ip.includes(":") ? `[${ip}]:${addr?.port ?? 0}` : `${ip}:${addr?.port ?? 0}`;
}

function hintOf(wa: WeightedAddr): DiscoveredEndpoint["protocolHint"] {
  const p = wa.protocolHint?.protocol?.$case;
  return p === "h2" || p === "opaque" ? p : undefined;
}

function identityOf(wa: WeightedAddr): string | undefined {
  const s = wa.tlsIdentity?.strategy;
  return s?.$case === "dnsLikeIdentity" ? s.dnsLikeIdentity.name : undefined;
}

export function toEndpoint(
  wa: WeightedAddr,
  setLabels: Record<string, string>,
): DiscoveredEndpoint {
  return {
    key: keyOf(wa.addr),
    address: addressText(wa.addr),
    port: wa.addr?.port ?? 0,
    weight: wa.weight,
    labels: { ...setLabels, ...wa.metricLabels },
    identity: identityOf(wa),
    protocolHint: hintOf(wa),
    opaqueTransportPort: wa.protocolHint?.opaqueTransport?.inboundPort,
  };
}

function current(state: EndpointState, first: boolean): Map<string, DiscoveredEndpoint> {
  return !first && state.kind === "endpoints" ? new Map(state.endpoints) : new Map();
}

function settle(endpoints: Map<string, DiscoveredEndpoint>): EndpointState {
  return endpoints.size === 0 ? { kind: "none", exists: true } : { kind: "endpoints", endpoints };
}

/** The state after `update`; `first` marks the first message of a (re)connected stream. */
export function applyUpdate(state: EndpointState, update: Update, first: boolean): EndpointState {
  const u = update.update;
  switch (u?.$case) {
    case "add": {
      const next = current(state, first);
      for (const wa of u.add.addrs) {
        const ep = toEndpoint(wa, u.add.metricLabels);
        next.set(ep.key, ep);
      }
      return settle(next);
    }
    case "remove": {
      const next = current(state, first);
      for (const a of u.remove.addrs) next.delete(keyOf(a));
      return settle(next);
    }
    case "noEndpoints":
      return { kind: "none", exists: u.noEndpoints.exists };
    default:
      return state;
  }
}
