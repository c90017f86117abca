// Mesh status from what was observed. Pure; lastTransitionTime only moves when a condition's
// status does, and `statusEqual` lets the reconciler skip writes that would change nothing.

import type { ComponentStatus, Condition, Mesh, MeshStatus } from "../../crds/types";
import { meshVersion } from "./desired";

export interface ObservedComponent {
  name: string;
  /** Replicas the Mesh asks for. */
  desired: number;
  /** Ready pods of the current template. */
  ready: number;
  /** Pods running the current template. */
  updated: number;
  /** The Deployment controller has seen the latest spec. */
  observed: boolean;
  exists: boolean;
}

export interface StatusInput {
  mesh: Mesh;
  components: ObservedComponent[];
  meshedPods: number;
  /** Pods in namespaces the mesh can inject (control plane and kube-system excluded). */
  totalPods: number;
  /** Share (0..1) of meshed traffic under mTLS, when it could be measured. */
  mtlsShare?: number;
  /** The last reconcile error, if the last attempt failed. */
  error?: string;
  now: Date;
}

export function componentReady(c: ObservedComponent): boolean {
  return c.exists && c.observed && c.updated >= c.desired && c.ready >= c.desired;
}

function condition(
  type: string,
  status: boolean,
  reason: string,
  message: string,
  gen: number | undefined,
  prev: Condition[],
  now: Date,
): Condition {
  const s: Condition["status"] = status ? "True" : "False";
  const old = prev.find((c) => c.type === type);
  const lastTransitionTime = old && old.status === s ? old.lastTransitionTime : now.toISOString();
  return { type, status: s, reason, message, observedGeneration: gen, lastTransitionTime };
}

function notReadyMessage(comps: ObservedComponent[]): string {
  const waiting = comps
    .filter((c) => !componentReady(c))
    .map((c) => `weft-${c.name} ${c.ready}/${c.desired}`);
  return waiting.length ? `waiting for ${waiting.join(", ")}` : "all components ready";
}

/** Rounded down, so 100% means all of it and a sliver of plaintext still shows as 99%. */
export function formatShare(share: number | undefined): string {
  return share === undefined ? "-" : `${Math.floor(share * 100 + 1e-9)}%`;
}

function componentStatuses(comps: ObservedComponent[]): ComponentStatus[] {
  return comps.map((c) => ({
    name: c.name,
    ready: componentReady(c),
    readyReplicas: c.ready,
    replicas: c.desired,
  }));
}

function readyCondition(input: StatusInput, prev: Condition[]): Condition {
  const gen = input.mesh.metadata?.generation;
  const allReady = input.components.length > 0 && input.components.every(componentReady);
  if (input.error)
    return condition("Ready", false, "ReconcileFailed", input.error, gen, prev, input.now);
  const reason = allReady ? "ControlPlaneReady" : "ComponentsNotReady";
  return condition(
    "Ready",
    allReady,
    reason,
    notReadyMessage(input.components),
    gen,
    prev,
    input.now,
  );
}

function progressingCondition(input: StatusInput, prev: Condition[]): Condition {
  const rolling = input.components.some((c) => !componentReady(c));
  const reason = rolling ? "RollingOut" : "Reconciled";
  const gen = input.mesh.metadata?.generation;
  return condition(
    "Progressing",
    rolling,
    reason,
    notReadyMessage(input.components),
    gen,
    prev,
    input.now,
  );
}

function degradedCondition(input: StatusInput, prev: Condition[]): Condition {
  const gen = input.mesh.metadata?.generation;
  if (input.error)
    return condition("Degraded", true, "ReconcileFailed", input.error, gen, prev, input.now);
  return condition("Degraded", false, "AsExpected", "no errors", gen, prev, input.now);
}

export function computeStatus(input: StatusInput): MeshStatus {
  const prev = input.mesh.status?.conditions ?? [];
  return {
    observedGeneration: input.mesh.metadata?.generation,
    conditions: [
      readyCondition(input, prev),
      progressingCondition(input, prev),
      degradedCondition(input, prev),
    ],
    version: meshVersion(input.mesh),
    meshed: `${input.meshedPods}/${input.totalPods}`,
    meshedPods: input.meshedPods,
    mtls: formatShare(input.mtlsShare),
    components: componentStatuses(input.components),
  };
}

function stripTimes(s: MeshStatus | undefined): unknown {
  if (!s) return undefined;
  return {
    ...s,
    conditions: (s.conditions ?? []).map((c) => ({ ...c, lastTransitionTime: undefined })),
  };
}

/** True when writing `next` would change nothing a reader cares about. */
export function statusEqual(prev: MeshStatus | undefined, next: MeshStatus): boolean {
  return JSON.stringify(stripTimes(prev)) === JSON.stringify(stripTimes(next));
}
