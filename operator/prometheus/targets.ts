// Which pods Prometheus scrapes: every running pod with a Weft proxy, at the proxy's admin port,
// labelled as Linkerd's scrape configuration labels them. Pure; main.ts feeds it the pod watch.
// (Prometheus's own Kubernetes discovery is not in every build, e.g. Debian's; HTTP discovery is.)

import type { V1Container, V1Pod } from "@kubernetes/client-node";

/** One entry of Prometheus's HTTP service discovery answer. */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

const PROXY_CONTAINER = "weft-proxy";
const ADMIN_PORT_NAME = "weft-admin";
const OWNER_LABEL = /^weft\.io\/proxy-([a-z]+)$/;

function proxyContainer(pod: V1Pod): V1Container | undefined {
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  return all.find((c) => c.name === PROXY_CONTAINER);
}

function adminPort(pod: V1Pod): number | undefined {
  return proxyContainer(pod)?.ports?.find((p) => p.name === ADMIN_PORT_NAME)?.containerPort;
}

function scrapeable(pod: V1Pod): boolean {
  return (
    Boolean(pod.status?.podIP) &&
    pod.status?.phase === "Running" &&
    !pod.metadata?.deletionTimestamp
  );
}

/** namespace, pod, the owner (`deployment: web`) and the control-plane namespace. */
function targetLabels(pod: V1Pod): Record<string, string> {
  const meta = pod.metadata ?? {};
  const labels: Record<string, string> = { namespace: meta.namespace ?? "", pod: meta.name ?? "" };
  for (const [key, value] of Object.entries(meta.labels ?? {})) {
    const owner = OWNER_LABEL.exec(key);
    if (owner) labels[owner[1]] = value;
  }
  const cpNs = meta.labels?.["weft.io/control-plane-ns"];
  if (cpNs) labels.control_plane_ns = cpNs;
  return labels;
}

/** The scrape target of one pod, or undefined when it has no proxy to scrape. */
export function targetOf(pod: V1Pod): TargetGroup | undefined {
  const port = adminPort(pod);
  if (!scrapeable(pod) || !port) return undefined;
  const ip = pod.status!.podIP!;
  const host = ip.includes(":") ? `[${ip}]` : ip;
  return { targets: [`${host}:${port}`], labels: targetLabels(pod) };
}

/** Targets by pod UID, kept current from watch events. */
export class TargetSet {
  private readonly byUid = new Map<string, TargetGroup>();

  apply(pod: V1Pod, phase: string): void {
    const uid = pod.metadata?.uid ?? `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const target = phase === "DELETED" ? undefined : targetOf(pod);
    if (target) this.byUid.set(uid, target);
    else this.byUid.delete(uid);
  }

  groups(): TargetGroup[] {
    return [...this.byUid.values()].sort((a, b) => a.targets[0].localeCompare(b.targets[0]));
  }
}
