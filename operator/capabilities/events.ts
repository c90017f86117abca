// Kubernetes Events for what the operator decided about a pod. Fire and forget: an Event that
// cannot be written must never delay or fail an admission.

import { hostname } from "node:os";
import { K8s, kind, Log } from "pepr";
import type { V1Pod } from "@kubernetes/client-node";

export interface PodEvent {
  namespace: string;
  reason: "Injected" | "InjectionSkipped";
  message: string;
  type: "Normal" | "Warning";
  pod: V1Pod;
}

interface Ref {
  kind: string;
  name: string;
  namespace: string;
  uid?: string;
  apiVersion: string;
}

function ownerRef(e: PodEvent): Ref | undefined {
  const refs = e.pod.metadata?.ownerReferences ?? [];
  const owner = refs.find((o) => o.controller) ?? refs[0];
  if (!owner) return undefined;
  return {
    kind: owner.kind,
    apiVersion: owner.apiVersion,
    name: owner.name,
    namespace: e.namespace,
    uid: owner.uid,
  };
}

/** The pod when it has a name yet, else its controller (pods of ReplicaSets are named later). */
export function involvedObject(e: PodEvent): Ref {
  const meta = e.pod.metadata ?? {};
  if (meta.name)
    return {
      kind: "Pod",
      apiVersion: "v1",
      name: meta.name,
      namespace: e.namespace,
      uid: meta.uid,
    };
  return (
    ownerRef(e) ?? {
      kind: "Pod",
      apiVersion: "v1",
      name: meta.generateName ?? "unknown",
      namespace: e.namespace,
    }
  );
}

export function eventObject(e: PodEvent, now: Date): InstanceType<typeof kind.CoreEvent> {
  const obj = involvedObject(e);
  const ts = now.toISOString();
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: {
      name: `${obj.name}.${now.getTime().toString(16)}${Math.floor(Math.random() * 4096).toString(16)}`,
      namespace: e.namespace,
    },
    involvedObject: obj,
    reason: e.reason,
    message: e.message,
    type: e.type,
    source: { component: "weft-injector" },
    reportingComponent: "weft.io/injector",
    reportingInstance: hostname(),
    firstTimestamp: ts as unknown as Date,
    lastTimestamp: ts as unknown as Date,
    count: 1,
  } as InstanceType<typeof kind.CoreEvent>;
}

export function emitPodEvent(e: PodEvent): void {
  K8s(kind.CoreEvent)
    .Create(eventObject(e, new Date()))
    .catch((err: unknown) => Log.warn({ err: String(err) }, `could not write event ${e.reason}`));
}
