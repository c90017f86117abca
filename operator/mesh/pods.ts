// Meshed-pod counts for the Mesh status. Pure.

import type { V1Pod } from "@kubernetes/client-node";

/** Never injected: the system, the control plane, and the operator's own (Pepr skips it). */
const ALWAYS_EXCLUDED = ["kube-system", "weft-system", "pepr-system"];

function running(p: V1Pod): boolean {
  return p.status?.phase === "Running" && !p.metadata?.deletionTimestamp;
}

export function isMeshed(p: V1Pod): boolean {
  const all = [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])];
  return all.some((c) => c.name === "weft-proxy");
}

/** Running pods the mesh could inject (not hostNetwork, not in excluded namespaces) and how many are. */
export function podCounts(pods: V1Pod[], excluded: string[]): { meshed: number; total: number } {
  const skip = new Set([...ALWAYS_EXCLUDED, ...excluded]);
  const eligible = pods.filter(
    (p) => running(p) && !skip.has(p.metadata?.namespace ?? "") && !p.spec?.hostNetwork,
  );
  return { meshed: eligible.filter(isMeshed).length, total: eligible.length };
}
