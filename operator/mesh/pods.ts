// Meshed-pod counts and the mTLS share for the Mesh status. Pure.

import type { V1Pod } from "@kubernetes/client-node";

const ALWAYS_EXCLUDED = ["kube-system", "weft-system"];

function running(p: V1Pod): boolean {
  return p.status?.phase === "Running" && !p.metadata?.deletionTimestamp;
}

export function isMeshed(p: V1Pod): boolean {
  const all = [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])];
  return all.some((c) => c.name === "weft-proxy");
}

function proxyReady(p: V1Pod): boolean {
  const all = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])];
  return all.some((c) => c.name === "weft-proxy" && c.ready);
}

/** Running pods the mesh could inject (not hostNetwork, not in excluded namespaces) and how many are. */
export function podCounts(pods: V1Pod[], excluded: string[]): { meshed: number; total: number } {
  const skip = new Set([...ALWAYS_EXCLUDED, ...excluded]);
  const eligible = pods.filter(
    (p) => running(p) && !skip.has(p.metadata?.namespace ?? "") && !p.spec?.hostNetwork,
  );
  return { meshed: eligible.filter(isMeshed).length, total: eligible.length };
}

/**
 * Share of running meshed pods whose proxy has an identity and is ready (the proxy is only
 * ready once certified, so their meshed traffic is mTLS); undefined when none are meshed.
 */
export function mtlsShareOfPods(pods: V1Pod[]): number | undefined {
  const meshed = pods.filter((p) => running(p) && isMeshed(p));
  if (meshed.length === 0) return undefined;
  const secured = meshed.filter(
    (p) => p.metadata?.annotations?.["weft.io/identity-mode"] === "default" && proxyReady(p),
  );
  return secured.length / meshed.length;
}
