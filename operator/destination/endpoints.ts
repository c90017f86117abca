/**
 * Pure translation of cluster state into endpoint sets (`WeightedAddr`s) and of two successive
 * sets into the updates a stream needs.
 */
import type {
  AddrSet,
  ProtocolHint,
  TlsIdentity,
  Update,
  WeightedAddr,
} from "../../api/gen/destination";
import { addressKey, tcpAddress } from "./address";
import { isIP } from "node:net";
import {
  DEFAULT_OPAQUE_PORTS,
  type PodModel,
  type ServiceModel,
  type SliceEndpointModel,
  type SliceModel,
} from "./model";

export const DEFAULT_WEIGHT = 10000;

/** What the translation needs to know about this control plane. */
export interface MeshContext {
  controllerNamespace: string;
  trustDomain: string;
  clusterDomain: string;
}

/** An endpoint set: `exists` is false when the service itself is unknown. */
export interface EndpointSet {
  exists: boolean;
  labels: Record<string, string>;
  addrs: Map<string, WeightedAddr>;
}

export function identityName(sa: string, ns: string, ctx: MeshContext): string {
  return `${sa}.${ns}.serviceaccount.identity.${ctx.controllerNamespace}.${ctx.trustDomain}`;
}

function isMeshed(pod: PodModel | undefined, ctx: MeshContext): pod is PodModel {
  return pod !== undefined && pod.controlPlaneNs === ctx.controllerNamespace;
}

function tlsIdentity(pod: PodModel, ctx: MeshContext): TlsIdentity {
  const name = identityName(pod.serviceAccount, pod.namespace, ctx);
  return {
    strategy: { $case: "dnsLikeIdentity", dnsLikeIdentity: { name } },
    serverName: { name },
  };
}

function protocolHint(pod: PodModel, port: number): ProtocolHint {
  const opaque = (pod.opaquePorts ?? DEFAULT_OPAQUE_PORTS).includes(port);
  if (!opaque) return { protocol: { $case: "h2", h2: {} }, opaqueTransport: undefined };
  return {
    protocol: { $case: "opaque", opaque: {} },
    opaqueTransport: { inboundPort: pod.inboundPort },
  };
}

function addressLabels(
  pod: PodModel | undefined,
  zone: string | undefined,
): Record<string, string> {
  const labels: Record<string, string> = {};
  if (pod) {
    labels.pod = pod.name;
    labels.serviceaccount = pod.serviceAccount;
    if (pod.ownerKind && pod.ownerName) labels[pod.ownerKind] = pod.ownerName;
    if (pod.labels["pod-template-hash"]) labels.pod_template_hash = pod.labels["pod-template-hash"];
  }
  if (zone) labels.zone = zone;
  return labels;
}

/** The WeightedAddr of one endpoint; mesh details only for pods meshed by this control plane. */
export function weightedAddr(
  ip: string,
  port: number,
  pod: PodModel | undefined,
  ctx: MeshContext,
  zone?: string,
): WeightedAddr {
  const meshed = isMeshed(pod, ctx);
  return {
    addr: tcpAddress(ip, port),
    weight: DEFAULT_WEIGHT,
    metricLabels: addressLabels(pod, zone),
    tlsIdentity: meshed ? tlsIdentity(pod, ctx) : undefined,
    protocolHint: meshed ? protocolHint(pod, port) : undefined,
    authorityOverride: undefined,
    http2: undefined,
    resourceRef: pod
      ? {
          kind: {
            $case: "resource",
            resource: {
              group: "core",
              kind: "Pod",
              name: pod.name,
              namespace: pod.namespace,
              section: "",
              port,
            },
          },
        }
      : undefined,
  };
}

/** The target port endpoints of `slice` listen on for service port `port`. */
export function targetPortFor(
  svc: ServiceModel,
  port: number,
  slice: SliceModel,
  pod: PodModel | undefined,
): number | undefined {
  const sp = svc.ports.find((p) => p.port === port);
  if (!sp) return port;
  const fromSlice = slice.ports.find((p) => p.name === sp.name);
  if (fromSlice && fromSlice.port > 0) return fromSlice.port;
  if (typeof sp.targetPort === "number") return sp.targetPort;
  return pod?.containerPorts.find((p) => p.name === sp.targetPort)?.port;
}

/** Ready, not terminating, an IP address (FQDN slices are skipped), and the asked-for hostname if any. */
function servable(ep: SliceEndpointModel, hostname: string | undefined): boolean {
  if (!ep.ready || ep.terminating || isIP(ep.ip) === 0) return false;
  return hostname === undefined || ep.hostname === hostname;
}

export interface ServiceState {
  service: ServiceModel | undefined;
  slices: Iterable<SliceModel>;
  pod: (namespace: string, name: string) => PodModel | undefined;
  /** Whether the pod was deleted (the slice may still list it for a moment). */
  podGone?: (namespace: string, name: string) => boolean;
}

/**
 * A deleted pod the slice still lists: served, it would go out without its identity, and a
 * meshed client would send it plaintext until the slice catches up.
 */
function deletedPod(state: ServiceState, ns: string, podName: string | undefined): boolean {
  return podName !== undefined && state.podGone?.(ns, podName) === true;
}

/** The ready, non-terminating endpoints of a Service port (optionally one hostname of a headless Service). */
export function serviceEndpointSet(
  state: ServiceState,
  port: number,
  hostname: string | undefined,
  ctx: MeshContext,
): EndpointSet {
  const svc = state.service;
  if (!svc) return { exists: false, labels: {}, addrs: new Map() };
  const addrs = new Map<string, WeightedAddr>();
  for (const slice of state.slices) {
    for (const ep of slice.endpoints) {
      if (!servable(ep, hostname)) continue;
      if (deletedPod(state, slice.namespace, ep.podName)) continue;
      const pod = ep.podName ? state.pod(slice.namespace, ep.podName) : undefined;
      const target = targetPortFor(svc, port, slice, pod);
      if (target === undefined) continue;
      const wa = weightedAddr(ep.ip, target, pod, ctx, ep.zone);
      addrs.set(addressKey(wa.addr), wa);
    }
  }
  return { exists: true, labels: { namespace: svc.namespace, service: svc.name }, addrs };
}

/** The endpoint set of `ip:port`: the pod with that IP when there is one, else the bare address. */
export function podEndpointSet(
  ip: string,
  port: number,
  pod: PodModel | undefined,
  ctx: MeshContext,
): EndpointSet {
  const wa = weightedAddr(ip, port, pod, ctx);
  const labels: Record<string, string> = pod ? { namespace: pod.namespace } : {};
  return { exists: true, labels, addrs: new Map([[addressKey(wa.addr), wa]]) };
}

/** A stable fingerprint of an address, to notice changed labels, identity or hints. */
export function fingerprint(wa: WeightedAddr): string {
  return JSON.stringify(wa, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}

export function addUpdate(set: EndpointSet, addrs: WeightedAddr[]): Update {
  return { update: { $case: "add", add: { addrs, metricLabels: set.labels } } };
}

export function removeUpdate(addrs: AddrSet["addrs"]): Update {
  return { update: { $case: "remove", remove: { addrs } } };
}

export function noEndpointsUpdate(exists: boolean): Update {
  return { update: { $case: "noEndpoints", noEndpoints: { exists } } };
}

/** The first message of a stream: the whole set, or no_endpoints. */
export function snapshotUpdates(set: EndpointSet): Update[] {
  if (set.addrs.size === 0) return [noEndpointsUpdate(set.exists)];
  return [addUpdate(set, [...set.addrs.values()])];
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/**
 * The updates that take a client from `prev` to `next`: removals, then additions (changed
 * addresses are re-added). Emptying the set is `no_endpoints{exists}` rather than a removal.
 */
export function diffUpdates(prev: EndpointSet, next: EndpointSet): Update[] {
  if (next.addrs.size === 0) {
    const changed = prev.addrs.size > 0 || prev.exists !== next.exists;
    return changed ? [noEndpointsUpdate(next.exists)] : [];
  }
  const removed = [...prev.addrs.entries()]
    .filter(([k]) => !next.addrs.has(k))
    .map(([, wa]) => wa.addr!);
  const relabeled = !sameLabels(prev.labels, next.labels);
  const added = [...next.addrs.entries()]
    .filter(
      ([k, wa]) =>
        relabeled || !prev.addrs.has(k) || fingerprint(prev.addrs.get(k)!) !== fingerprint(wa),
    )
    .map(([, wa]) => wa);
  const out: Update[] = [];
  if (removed.length > 0) out.push(removeUpdate(removed));
  if (added.length > 0) out.push(addUpdate(next, added));
  return out;
}
