// The Weft capability: injector (Pod CREATE), validation (ServiceProfile, Mesh), the Mesh
// reconciler with its own retry/resync, and a watch that reports pods the webhook never saw.

import type { V1Namespace, V1Pod } from "@kubernetes/client-node";
import { Capability, K8s, a, kind, Log } from "pepr";
import type { Mesh } from "../../crds/types";
import { loadIssuer, trustRootSha256 } from "../identity/ca";
import { contextFromMesh, supportsNativeSidecars } from "../inject/context";
import type { InjectContext } from "../inject/decide";
import { MISSED_MESSAGE, missedInjection } from "../inject/missed";
import { availableComponents } from "../mesh/available";
import { Requeue } from "../mesh/backoff";
import { KubeMeshIO } from "../mesh/io";
import * as names from "../mesh/names";
import { reconcileMesh, type ReconcileResult } from "../mesh/reconciler";
import { cached } from "./cache";
import { emitPodEvent } from "./events";
import { Generations } from "./generations";
import { mutatePod } from "./injector";
import { admissionTiming } from "./timing";
import { MeshKind, ServiceProfileKind } from "./kinds";
import { reconcileProfileStatus } from "./profiles";
import { validateMeshRequest, validateServiceProfileRequest } from "./validators";

export const Weft = new Capability({
  name: "weft",
  description:
    "Injects the Weft proxy, validates Mesh and ServiceProfile, reconciles the Mesh into a control plane.",
});

const { When } = Weft;

/** Admission timing with sub-millisecond buckets; operator/pepr.ts hands Pepr its hooks. */
export const admissionTimes = admissionTiming();

async function currentMesh(): Promise<Mesh | undefined> {
  const list = await K8s(MeshKind).Get();
  return list.items.find((m) => !m.metadata?.deletionTimestamp) as Mesh | undefined;
}

const nativeSidecars = cached(3600_000, async () => {
  try {
    const v = (await K8s(kind.Namespace).Raw("/version")) as unknown as {
      major: string;
      minor: string;
    };
    return supportsNativeSidecars(v.major, v.minor);
  } catch {
    return true;
  }
});

async function loadContext(): Promise<InjectContext> {
  const mesh = await currentMesh();
  const cmName = mesh?.spec?.identity?.issuer?.trustAnchorsConfigMap ?? names.TRUST_ROOTS_CM;
  const cm = await K8s(kind.ConfigMap)
    .InNamespace(names.NS)
    .Get(cmName)
    .catch(() => undefined);
  const anchorsPem = cm?.data?.[names.TRUST_ROOTS_KEY];
  const trust = { anchorsPem, sha256: anchorsPem ? trustRootSha256(anchorsPem) : undefined };
  return contextFromMesh(mesh, trust, await nativeSidecars());
}

/**
 * Reloaded off the request path when a watch sees the Mesh's spec or a ConfigMap of weft-system
 * change, and every 60 s besides; every 2 s while those watches are not running. A reload is not
 * free even off the request path: each read opens a new API server connection (TLS handshake,
 * kubeconfig) on the event loop that admissions wait behind. Not cached while the Mesh has no
 * trust anchors yet.
 */
let contextWatched = false;
const injectContext = cached<InjectContext>(
  (c) => (!c.trustAnchorsPem ? 0 : contextWatched ? 60_000 : 2000),
  loadContext,
);

/** A status update (the reconciler writes one every resync) changes nothing the injector reads. */
const meshGenerations = new Generations();

function onMeshEvent(mesh: Mesh, phase: unknown): void {
  const { name = "", generation } = mesh.metadata ?? {};
  if (meshGenerations.changed(name, generation, String(phase) === "DELETED"))
    injectContext.invalidate();
}

function watchContext(): void {
  const watches = [
    K8s(MeshKind).Watch((mesh, phase) => onMeshEvent(mesh as Mesh, phase)),
    K8s(kind.ConfigMap)
      .InNamespace(names.NS)
      .Watch(() => injectContext.invalidate()),
  ];
  Promise.all(watches.map((w) => w.start()))
    .then(() => (contextWatched = true))
    .catch((err: unknown) => {
      Log.warn({ err: String(err) }, "Mesh/ConfigMap watch failed; the Mesh context is polled");
      for (const w of watches) w.close();
    });
}

/**
 * Namespaces from a watch started with the module, or on first use (admission stays off the API
 * server's hot path); a namespace not seen yet is read directly. Watch events arrive within milliseconds, so an
 * annotation followed by a rollout restart is honoured.
 */
const namespaceCache = new Map<string, V1Namespace>();
let namespaceWatch: Promise<unknown> | undefined;

function watchNamespaces(): void {
  namespaceWatch ??= K8s(kind.Namespace)
    .Watch((ns, phase) => {
      const name = ns.metadata?.name ?? "";
      if (String(phase) === "DELETED") namespaceCache.delete(name);
      else namespaceCache.set(name, ns);
    })
    .start()
    .catch((err: unknown) => {
      Log.warn({ err: String(err) }, "namespace watch failed; reading namespaces per admission");
      namespaceWatch = undefined;
    });
}

async function namespaceOf(name: string): Promise<V1Namespace | undefined> {
  watchNamespaces();
  const hit = namespaceCache.get(name);
  if (hit) return hit;
  const ns = await K8s(kind.Namespace)
    .Get(name)
    .catch(() => undefined);
  if (ns) namespaceCache.set(name, ns);
  return ns;
}

/**
 * Started with the module (not while `pepr build` lists its bindings), so that the first
 * admissions after a rollout find the namespaces and the Mesh context in memory too.
 */
if (process.env.PEPR_MODE !== "build") {
  watchNamespaces();
  watchContext();
  injectContext().catch((err: unknown) =>
    Log.warn({ err: String(err) }, "could not load the Mesh context yet; the first admission will"),
  );
}

const injectorDeps = {
  context: injectContext,
  namespace: namespaceOf,
  emit: emitPodEvent,
  log: (msg: string, fields?: Record<string, unknown>): void => Log.warn(fields ?? {}, msg),
};

When(a.Pod)
  .IsCreated()
  .Mutate((req) => admissionTimes.timeMutate(() => mutatePod(req, injectorDeps)));

When(ServiceProfileKind)
  .IsCreatedOrUpdated()
  .Validate((req) => validateServiceProfileRequest(req))
  .Reconcile((sp) => reconcileProfileStatus(sp));

const meshValidationDeps = {
  meshNames: async (): Promise<string[]> =>
    (await K8s(MeshKind).Get()).items.map((m) => m.metadata?.name ?? ""),
  secret: async (
    name: string,
  ): Promise<{ type?: string; data: Record<string, string> } | undefined> => {
    const s = await K8s(kind.Secret)
      .InNamespace(names.NS)
      .Get(name)
      .catch(() => undefined);
    if (!s) return undefined;
    const data = Object.fromEntries(
      Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
    );
    return { type: s.type, data };
  },
  configMap: async (name: string): Promise<Record<string, string> | undefined> =>
    (
      await K8s(kind.ConfigMap)
        .InNamespace(names.NS)
        .Get(name)
        .catch(() => undefined)
    )?.data,
  loadIssuer,
};

const meshIO = new KubeMeshIO();
const reconcileOptions = {
  available: availableComponents(),
  defaultImage: process.env.WEFT_CONTROLLER_IMAGE,
};

/** Resync every 15 s when Ready (meshed counts move), every 5 s while the control plane comes up. */
const meshQueue = new Requeue<ReconcileResult | undefined>(
  (name) => reconcileMesh(name, meshIO, reconcileOptions),
  (r) => (r === undefined || r.deleted ? undefined : r.ready ? 15_000 : 5_000),
  (name, err, ms) =>
    Log.error({ err: String(err) }, `reconcile of Mesh ${name} failed; retrying in ${ms} ms`),
);

When(MeshKind)
  .IsCreatedOrUpdated()
  .Validate((req) => validateMeshRequest(req, meshValidationDeps))
  .Reconcile((mesh) => meshQueue.trigger(mesh.metadata?.name ?? "weft"));

When(MeshKind)
  .IsDeleted()
  .Watch((mesh) => meshQueue.forget(mesh.metadata?.name ?? "weft"));

When(a.Deployment)
  .IsCreatedOrUpdated()
  .InNamespace(names.NS)
  .WithLabel(names.LABEL_MANAGED_BY, names.MANAGED_BY)
  .Watch((d) => {
    const mesh = d.metadata?.labels?.[names.LABEL_MESH];
    if (mesh) void meshQueue.trigger(mesh);
  });

/** Pods that should carry the proxy but reached the API server without it (webhook down). */
When(a.Pod)
  .IsCreated()
  .Watch(async (pod: V1Pod) => {
    const nsName = pod.metadata?.namespace ?? "default";
    if (!missedInjection(pod, await namespaceOf(nsName), await injectContext(), new Date())) return;
    emitPodEvent({
      namespace: nsName,
      pod,
      reason: "InjectionSkipped",
      type: "Warning",
      message: MISSED_MESSAGE,
    });
  });
