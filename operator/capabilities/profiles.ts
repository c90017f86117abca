// ServiceProfile status: the decision is operator/profiles' (Accepted, observedGeneration);
// this writes it, and only when it would change.

import { K8s, Log } from "pepr";
import type { ServiceProfile } from "../../crds/types";
import { decideStatus, statusChanged } from "../profiles/status";
import { ServiceProfileKind } from "./kinds";

export async function reconcileProfileStatus(sp: ServiceProfileKind): Promise<void> {
  const next = decideStatus(sp as ServiceProfile, new Date());
  if (!statusChanged(sp.status, next)) return;
  const { name, namespace } = sp.metadata ?? {};
  try {
    await K8s(ServiceProfileKind).PatchStatus({ metadata: { name, namespace }, status: next });
  } catch (err) {
    Log.error({ err: String(err) }, `status of ServiceProfile ${namespace}/${name}`);
  }
}
