// ServiceProfile status: Accepted once admitted (the validating webhook rejects invalid ones),
// with the observed generation. Written only when it would change.

import { K8s, Log } from "pepr";
import type { ServiceProfile, ServiceProfileStatus } from "../../crds/types";
import { ServiceProfileKind } from "./kinds";

export function profileStatus(sp: ServiceProfile, now: Date): ServiceProfileStatus {
  const gen = sp.metadata?.generation;
  const prev = sp.status?.conditions?.find((c) => c.type === "Accepted");
  const routes = sp.spec?.routes?.length ?? 0;
  return {
    observedGeneration: gen,
    conditions: [
      {
        type: "Accepted",
        status: "True",
        reason: "Valid",
        message: `${routes} route(s); served to proxies by weft-destination`,
        observedGeneration: gen,
        lastTransitionTime: prev?.status === "True" ? prev.lastTransitionTime : now.toISOString(),
      },
    ],
  };
}

export function profileStatusChanged(sp: ServiceProfile, next: ServiceProfileStatus): boolean {
  const strip = (s?: ServiceProfileStatus): string =>
    JSON.stringify({
      ...s,
      conditions: s?.conditions?.map((c) => ({ ...c, lastTransitionTime: "" })),
    });
  return strip(sp.status) !== strip(next);
}

export async function reconcileProfileStatus(sp: ServiceProfileKind): Promise<void> {
  const next = profileStatus(sp as ServiceProfile, new Date());
  if (!profileStatusChanged(sp as ServiceProfile, next)) return;
  try {
    await K8s(ServiceProfileKind).PatchStatus({
      metadata: { name: sp.metadata?.name, namespace: sp.metadata?.namespace },
      status: next,
    });
  } catch (err) {
    Log.error(
      { err: String(err) },
      `status of ServiceProfile ${sp.metadata?.namespace}/${sp.metadata?.name}`,
    );
  }
}
