/**
 * Plain-data models of the Kubernetes objects the destination service watches, and the pure
 * functions that extract them from API objects. Only the fields the service needs are kept, so
 * memory grows with the number of services and endpoints, not with object size.
 */
import type { KubernetesObject } from "@kubernetes/client-node";

/** The opaque ports applied when neither pod nor Service says otherwise (REFERENCE.md). */
export const DEFAULT_OPAQUE_PORTS: readonly number[] = [
  25, 587, 3306, 4444, 5432, 6379, 9300, 11211,
];
export const OPAQUE_PORTS_ANNOTATION = "config.weft.io/opaque-ports";
export const CONTROL_PLANE_NS_LABEL = "weft.io/control-plane-ns";
export const PROXY_CONTAINER = "weft-proxy";
export const DEFAULT_INBOUND_PORT = 4143;

export interface ServicePortModel {
  name: string;
  port: number;
  /** A number, or the name of a container port. */
  targetPort: number | string;
}

export interface ServiceModel {
  namespace: string;
  name: string;
  clusterIP: string;
  headless: boolean;
  ports: ServicePortModel[];
  /** From `config.weft.io/opaque-ports`, else undefined (the defaults apply). */
  opaquePorts: number[] | undefined;
}

export interface SliceEndpointModel {
  ip: string;
  ready: boolean;
  terminating: boolean;
  podName: string | undefined;
  hostname: string | undefined;
  zone: string | undefined;
}

export interface SliceModel {
  namespace: string;
  name: string;
  service: string;
  ports: { name: string; port: number }[];
  endpoints: SliceEndpointModel[];
}

export interface PodModel {
  namespace: string;
  name: string;
  ip: string;
  labels: Record<string, string>;
  serviceAccount: string;
  ownerKind: string | undefined;
  ownerName: string | undefined;
  /** Value of the `weft.io/control-plane-ns` label when the pod runs a weft-proxy container. */
  controlPlaneNs: string | undefined;
  inboundPort: number;
  opaquePorts: number[] | undefined;
  containerPorts: { name: string; port: number }[];
  terminal: boolean;
}

interface Meta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { kind: string; name: string; controller?: boolean }[];
}

function meta(obj: KubernetesObject): Meta {
  return (obj.metadata ?? {}) as Meta;
}

/** Parses `3306,5432,4000-4010` into a sorted list; ranges are expanded (bounded to 65535). */
export function parsePortList(value: string | undefined): number[] | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const out = new Set<number>();
  for (const part of value.split(",")) {
    const [lo, hi] = part
      .trim()
      .split("-")
      .map((s) => Number(s));
    const end = hi === undefined ? lo : hi;
    if (!Number.isInteger(lo) || !Number.isInteger(end) || lo < 1 || end > 65535) continue;
    for (let p = lo; p <= end; p++) out.add(p);
  }
  return [...out].sort((a, b) => a - b);
}

interface RawService {
  spec?: {
    clusterIP?: string;
    ports?: { name?: string; port: number; targetPort?: number | string; protocol?: string }[];
  };
}

export function serviceFromObject(obj: KubernetesObject): ServiceModel {
  const m = meta(obj);
  const spec = (obj as RawService).spec ?? {};
  const clusterIP = spec.clusterIP ?? "";
  return {
    namespace: m.namespace ?? "",
    name: m.name ?? "",
    clusterIP,
    headless: clusterIP === "None",
    // Only TCP ports are proxied (a UDP port may share the number, as kube-dns's 53 does).
    ports: (spec.ports ?? [])
      .filter((p) => (p.protocol ?? "TCP") === "TCP")
      .map((p) => ({
        name: p.name ?? "",
        port: p.port,
        targetPort: p.targetPort ?? p.port,
      })),
    opaquePorts: parsePortList(m.annotations?.[OPAQUE_PORTS_ANNOTATION]),
  };
}

interface RawSlice {
  ports?: { name?: string | null; port?: number | null }[] | null;
  endpoints?: {
    addresses: string[];
    conditions?: { ready?: boolean | null; terminating?: boolean | null };
    targetRef?: { kind?: string; name?: string };
    hostname?: string;
    zone?: string;
  }[];
}

type RawSliceEndpoint = NonNullable<RawSlice["endpoints"]>[number];

function sliceEndpoints(ep: RawSliceEndpoint): SliceEndpointModel[] {
  const podName = ep.targetRef?.kind === "Pod" ? ep.targetRef.name : undefined;
  const ready = ep.conditions?.ready !== false;
  const terminating = ep.conditions?.terminating === true;
  return (ep.addresses ?? []).map((ip) => ({
    ip,
    ready,
    terminating,
    podName,
    hostname: ep.hostname,
    zone: ep.zone,
  }));
}

export function sliceFromObject(obj: KubernetesObject): SliceModel {
  const m = meta(obj);
  const raw = obj as RawSlice;
  return {
    namespace: m.namespace ?? "",
    name: m.name ?? "",
    service: m.labels?.["kubernetes.io/service-name"] ?? "",
    ports: (raw.ports ?? []).map((p) => ({ name: p.name ?? "", port: p.port ?? 0 })),
    endpoints: (raw.endpoints ?? []).flatMap(sliceEndpoints),
  };
}

interface RawContainer {
  name: string;
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string }[];
}

interface RawPod {
  spec?: {
    serviceAccountName?: string;
    containers?: RawContainer[];
    initContainers?: RawContainer[];
  };
  status?: { podIP?: string; phase?: string };
}

/** The owner a pod is reported under: the injector's `weft.io/proxy-<kind>` label, else the controller ref. */
export function podOwner(
  labels: Record<string, string>,
  refs: Meta["ownerReferences"],
): { kind: string | undefined; name: string | undefined } {
  for (const [k, v] of Object.entries(labels)) {
    if (k.startsWith("weft.io/proxy-")) return { kind: k.slice("weft.io/proxy-".length), name: v };
  }
  const ref = (refs ?? []).find((r) => r.controller) ?? refs?.[0];
  if (!ref) return { kind: undefined, name: undefined };
  const hash = labels["pod-template-hash"];
  if (ref.kind === "ReplicaSet" && hash && ref.name.endsWith(`-${hash}`)) {
    return { kind: "deployment", name: ref.name.slice(0, -hash.length - 1) };
  }
  return { kind: ref.kind.toLowerCase(), name: ref.name };
}

function inboundPortOf(proxy: RawContainer | undefined): number {
  const named = proxy?.ports?.find((p) => p.name === PROXY_CONTAINER);
  if (named) return named.containerPort;
  const env = proxy?.env?.find((e) => e.name === "WEFT_PROXY_INBOUND_LISTEN_ADDR")?.value;
  const port = env ? Number(env.slice(env.lastIndexOf(":") + 1)) : NaN;
  return Number.isInteger(port) && port > 0 ? port : DEFAULT_INBOUND_PORT;
}

function containersOf(raw: RawPod): RawContainer[] {
  return [...(raw.spec?.containers ?? []), ...(raw.spec?.initContainers ?? [])];
}

function namedPorts(containers: RawContainer[]): { name: string; port: number }[] {
  return containers.flatMap((c) =>
    (c.ports ?? []).flatMap((p) => (p.name ? [{ name: p.name, port: p.containerPort }] : [])),
  );
}

function podStatus(raw: RawPod): { ip: string; terminal: boolean; serviceAccount: string } {
  const phase = raw.status?.phase;
  return {
    ip: raw.status?.podIP ?? "",
    terminal: phase === "Succeeded" || phase === "Failed",
    serviceAccount: raw.spec?.serviceAccountName || "default",
  };
}

export function podFromObject(obj: KubernetesObject): PodModel {
  const m = meta(obj);
  const labels = m.labels ?? {};
  const containers = containersOf(obj as RawPod);
  const proxy = containers.find((c) => c.name === PROXY_CONTAINER);
  const owner = podOwner(labels, m.ownerReferences);
  return {
    namespace: m.namespace ?? "",
    name: m.name ?? "",
    ...podStatus(obj as RawPod),
    labels,
    ownerKind: owner.kind,
    ownerName: owner.name,
    controlPlaneNs: proxy ? labels[CONTROL_PLANE_NS_LABEL] : undefined,
    inboundPort: inboundPortOf(proxy),
    opaquePorts: parsePortList(m.annotations?.[OPAQUE_PORTS_ANNOTATION]),
    containerPorts: namedPorts(containers),
  };
}
