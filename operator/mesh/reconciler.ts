// The Mesh reconciler: gather (I/O) → decide (desired.ts, status.ts) → write (I/O).
// Level-based: each run looks at the whole world again; applies are idempotent and a status that
// would not change is not written, so the reconciler's own writes do not make it loop.

import type { KubernetesObject } from "@kubernetes/client-node";
import type { Mesh, MeshStatus } from "../../crds/types";
import { componentsToRun, replicasInSpec } from "./components";
import { desiredObjects, issuerNames, type TrustMaterial } from "./desired";
import { describeError } from "./kube";
import * as n from "./names";
import { computeStatus, statusEqual, type ObservedComponent } from "./status";

export const FINALIZER = "weft.io/control-plane";

export interface DeploymentView {
  name: string;
  generation: number;
  observedGeneration: number;
  replicas: number;
  readyReplicas: number;
  updatedReplicas: number;
}

export interface GeneratedTrustView {
  trustAnchorsPem: string;
  issuerSecretData: { "tls.crt": string; "tls.key": string; "ca.crt": string };
}

export interface MeshIO {
  getMesh(name: string): Promise<Mesh | undefined>;
  addFinalizer(name: string): Promise<void>;
  removeFinalizer(name: string): Promise<void>;
  /** Decoded string data of a ConfigMap / Secret in weft-system, undefined when absent. */
  readConfigMap(name: string): Promise<Record<string, string> | undefined>;
  readSecret(name: string): Promise<Record<string, string> | undefined>;
  generateTrust(trustDomain: string): Promise<GeneratedTrustView>;
  apply(obj: KubernetesObject): Promise<void>;
  deployments(): Promise<DeploymentView[]>;
  podCounts(excluded: string[]): Promise<{ meshed: number; total: number }>;
  mtlsShare(mesh: Mesh): Promise<number | undefined>;
  patchStatus(name: string, status: MeshStatus): Promise<void>;
  /** Everything labelled as created by this Mesh. */
  owned(meshName: string): Promise<KubernetesObject[]>;
  delete(obj: KubernetesObject): Promise<void>;
}

export interface ReconcileResult {
  ready: boolean;
  deleted?: boolean;
  statusWritten: boolean;
}

function existingIssuer(
  anchorsPem: string | undefined,
  secret: Record<string, string> | undefined,
): TrustMaterial | undefined {
  const crt = secret?.["tls.crt"];
  const key = secret?.["tls.key"];
  if (!anchorsPem || !crt || !key) return undefined;
  return {
    anchorsPem,
    generatedIssuer: { "tls.crt": crt, "tls.key": key, "ca.crt": secret?.["ca.crt"] ?? "" },
  };
}

/** Reuses generated trust material; generates it once when the user supplies no issuer. */
export async function trustFor(mesh: Mesh, io: MeshIO): Promise<TrustMaterial | undefined> {
  const names = issuerNames(mesh);
  const anchorsPem = (await io.readConfigMap(names.configMap))?.[n.TRUST_ROOTS_KEY];
  if (mesh.spec?.identity?.issuer?.secretName) return anchorsPem ? { anchorsPem } : undefined;
  const existing = existingIssuer(anchorsPem, await io.readSecret(names.secret));
  if (existing) return existing;
  const generated = await io.generateTrust(mesh.spec?.trustDomain ?? "cluster.local");
  return { anchorsPem: generated.trustAnchorsPem, generatedIssuer: generated.issuerSecretData };
}

export function observe(
  mesh: Mesh,
  available: readonly string[],
  deps: DeploymentView[],
): ObservedComponent[] {
  return componentsToRun(mesh, available).map((c) => {
    const d = deps.find((x) => x.name === `weft-${c.name}`);
    const desired = replicasInSpec(mesh, c.name);
    if (!d) return { name: c.name, desired, ready: 0, updated: 0, observed: false, exists: false };
    const observed = d.observedGeneration >= d.generation && d.replicas === desired;
    return {
      name: c.name,
      desired,
      ready: d.readyReplicas,
      updated: d.updatedReplicas,
      observed,
      exists: true,
    };
  });
}

async function applyAll(
  mesh: Mesh,
  available: readonly string[],
  io: MeshIO,
  defaultImage?: string,
): Promise<void> {
  const trust = await trustFor(mesh, io);
  for (const obj of desiredObjects({ mesh, available, trust, defaultImage })) await io.apply(obj);
}

/** Removes what the Mesh created; workloads and their proxies are left running. */
export async function cleanup(name: string, io: MeshIO): Promise<number> {
  const owned = await io.owned(name);
  for (const obj of owned) await io.delete(obj);
  await io.removeFinalizer(name);
  return owned.length;
}

export interface ReconcileOptions {
  available: readonly string[];
  defaultImage?: string;
  now?: () => Date;
}

async function writeStatus(
  mesh: Mesh,
  io: MeshIO,
  opts: ReconcileOptions,
  error?: string,
): Promise<ReconcileResult> {
  const components = observe(mesh, opts.available, await io.deployments());
  const pods = await io.podCounts(mesh.spec?.excludedNamespaces ?? []);
  const mtlsShare = pods.meshed > 0 ? await io.mtlsShare(mesh) : undefined;
  const now = (opts.now ?? (() => new Date()))();
  const status = computeStatus({
    mesh,
    components,
    meshedPods: pods.meshed,
    totalPods: pods.total,
    mtlsShare,
    error,
    now,
  });
  const ready = status.conditions?.find((c) => c.type === "Ready")?.status === "True";
  if (statusEqual(mesh.status, status)) return { ready, statusWritten: false };
  await io.patchStatus(mesh.metadata!.name!, status);
  return { ready, statusWritten: true };
}

/**
 * One pass for the Mesh `name`. Apply errors are recorded in status (Degraded) and rethrown so
 * the caller retries with backoff.
 */
export async function reconcileMesh(
  name: string,
  io: MeshIO,
  opts: ReconcileOptions,
): Promise<ReconcileResult | undefined> {
  const mesh = await io.getMesh(name);
  if (!mesh) return undefined;
  if (mesh.metadata?.deletionTimestamp) {
    if (mesh.metadata.finalizers?.includes(FINALIZER)) await cleanup(name, io);
    return { ready: false, deleted: true, statusWritten: false };
  }
  if (!mesh.metadata?.finalizers?.includes(FINALIZER)) await io.addFinalizer(name);
  try {
    await applyAll(mesh, opts.available, io, opts.defaultImage);
  } catch (e) {
    await writeStatus(mesh, io, opts, describeError(e));
    throw e;
  }
  return writeStatus(mesh, io, opts);
}
