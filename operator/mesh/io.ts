// MeshIO against a real API server: the fluent client for reads and status, our own
// server-side apply (kube.ts) for the objects we own.

import type { KubernetesObject } from "@kubernetes/client-node";
import { K8s, kind } from "pepr";
import type { Mesh, MeshStatus } from "../../crds/types";
import { MeshKind } from "../capabilities/kinds";
import { generateTrust } from "../identity/ca";
import { deleteObject, listObjects, serverSideApply } from "./kube";
import * as n from "./names";
import { FINALIZER, type DeploymentView, type MeshIO } from "./reconciler";
import { podCounts } from "./pods";
import { prometheusUrl, queryMtlsShare } from "./prometheus";

function notFound(e: unknown): boolean {
  const s = e as { status?: number; statusCode?: number; code?: number };
  return s?.status === 404 || s?.statusCode === 404 || s?.code === 404;
}

async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (notFound(e)) return undefined;
    throw e;
  }
}

function decode(data: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
  );
}

const OWNED_KINDS: [string, string, boolean][] = [
  ["apps/v1", "Deployment", true],
  ["batch/v1", "CronJob", true],
  ["v1", "Service", true],
  ["v1", "ServiceAccount", true],
  ["v1", "ConfigMap", true],
  ["v1", "Secret", true],
  ["rbac.authorization.k8s.io/v1", "Role", true],
  ["rbac.authorization.k8s.io/v1", "RoleBinding", true],
  ["rbac.authorization.k8s.io/v1", "ClusterRole", false],
  ["rbac.authorization.k8s.io/v1", "ClusterRoleBinding", false],
];

function toView(d: InstanceType<typeof kind.Deployment>): DeploymentView {
  const st = { observedGeneration: 0, readyReplicas: 0, updatedReplicas: 0, ...d.status };
  return {
    name: d.metadata?.name ?? "",
    generation: d.metadata?.generation ?? 0,
    observedGeneration: st.observedGeneration,
    replicas: d.spec?.replicas ?? 1,
    readyReplicas: st.readyReplicas,
    updatedReplicas: st.updatedReplicas,
  };
}

export class KubeMeshIO implements MeshIO {
  async getMesh(name: string): Promise<Mesh | undefined> {
    return (await orUndefined(K8s(MeshKind).Get(name))) as Mesh | undefined;
  }

  async addFinalizer(name: string): Promise<void> {
    await K8s(MeshKind).Finalize("add", FINALIZER, name);
  }

  async removeFinalizer(name: string): Promise<void> {
    await K8s(MeshKind).Finalize("remove", FINALIZER, name);
  }

  async readConfigMap(name: string): Promise<Record<string, string> | undefined> {
    return (await orUndefined(K8s(kind.ConfigMap).InNamespace(n.NS).Get(name)))?.data;
  }

  async readSecret(name: string): Promise<Record<string, string> | undefined> {
    const s = await orUndefined(K8s(kind.Secret).InNamespace(n.NS).Get(name));
    return s ? decode(s.data) : undefined;
  }

  generateTrust(trustDomain: string): ReturnType<MeshIO["generateTrust"]> {
    return generateTrust({ trustDomain });
  }

  async apply(obj: KubernetesObject): Promise<void> {
    await serverSideApply(obj);
  }

  async deployments(): Promise<DeploymentView[]> {
    const list = await K8s(kind.Deployment)
      .InNamespace(n.NS)
      .WithLabel(n.LABEL_MANAGED_BY, n.MANAGED_BY)
      .Get();
    return list.items.map(toView);
  }

  async podCounts(excluded: string[]): Promise<{ meshed: number; total: number }> {
    return podCounts((await K8s(kind.Pod).Get()).items, excluded);
  }

  async mtlsShare(mesh: Mesh): Promise<number | undefined> {
    const url = prometheusUrl(mesh);
    return url ? queryMtlsShare(url) : undefined;
  }

  async patchStatus(name: string, status: MeshStatus): Promise<void> {
    await K8s(MeshKind).PatchStatus({ metadata: { name }, status });
  }

  async owned(meshName: string): Promise<KubernetesObject[]> {
    const selector = `${n.LABEL_MESH}=${meshName},${n.LABEL_MANAGED_BY}=${n.MANAGED_BY}`;
    const lists = await Promise.all(
      OWNED_KINDS.map(([v, k, namespaced]) =>
        listObjects(v, k, namespaced ? n.NS : undefined, selector).then((items) =>
          items.map((i) => ({ ...i, apiVersion: v, kind: k })),
        ),
      ),
    );
    return lists.flat();
  }

  async delete(obj: KubernetesObject): Promise<void> {
    await deleteObject(obj);
  }
}
