// Pods the injector should have meshed but that reached the API server without the proxy
// (the webhook was down; it fails open). Only recent pods count: a watcher that restarts sees
// every existing pod again, and old unmeshed pods were reported (or predate the annotation).

import type { V1Namespace, V1Pod } from "@kubernetes/client-node";
import { decideInjection, hasProxy, type InjectContext } from "./decide";

export const MISSED_WINDOW_MS = 5 * 60_000;

export const MISSED_MESSAGE =
  "created without weft-proxy: the injector webhook did not process this pod (unreachable?); restart it once the operator is back";

export function missedInjection(
  pod: V1Pod,
  ns: V1Namespace | undefined,
  ctx: InjectContext,
  now: Date,
): boolean {
  if (hasProxy(pod)) return false;
  const created = Date.parse(String(pod.metadata?.creationTimestamp ?? ""));
  if (!(now.getTime() - created <= MISSED_WINDOW_MS)) return false;
  const nsName = pod.metadata?.namespace ?? "default";
  return decideInjection(pod, nsName, ns, ctx).inject;
}
