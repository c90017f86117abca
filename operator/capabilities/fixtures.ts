// AdmissionRequest fixtures for the handlers' tests.

import type { KubernetesObject } from "@kubernetes/client-node";

export interface AdmissionFixture<T> {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource: { group: string; version: string; resource: string };
  name: string;
  namespace?: string;
  operation: "CREATE" | "UPDATE" | "DELETE" | "CONNECT";
  userInfo: { username: string };
  object: T;
  oldObject?: T;
  dryRun?: boolean;
}

export function admission<T extends KubernetesObject>(
  object: T,
  gvk: { group: string; version: string; kind: string; resource: string },
  over: Partial<AdmissionFixture<T>> = {},
): AdmissionFixture<T> {
  return {
    uid: "0b1c2d3e",
    kind: { group: gvk.group, version: gvk.version, kind: gvk.kind },
    resource: { group: gvk.group, version: gvk.version, resource: gvk.resource },
    name: object.metadata?.name ?? "",
    namespace: object.metadata?.namespace,
    operation: "CREATE",
    userInfo: { username: "kubernetes-admin" },
    object,
    ...over,
  };
}

export const POD_GVK = { group: "", version: "v1", kind: "Pod", resource: "pods" };
