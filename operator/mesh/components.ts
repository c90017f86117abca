// The control-plane components a Mesh can run, their ports and the least privilege each needs.

import type { V1PolicyRule } from "@kubernetes/client-node";
import type { Mesh } from "../../crds/types";

export type ComponentName = "identity" | "destination" | "tap" | "api" | "web" | "prometheus";

export interface ComponentDef {
  name: ComponentName;
  port: number;
  portName: string;
  /** Cluster-wide rules (ClusterRole). */
  clusterRules: V1PolicyRule[];
  /** Rules inside weft-system (Role). */
  namespaceRules: V1PolicyRule[];
}

const READ = ["get", "list", "watch"];

export const COMPONENTS: readonly ComponentDef[] = [
  {
    name: "identity",
    port: 8080,
    portName: "grpc",
    clusterRules: [
      { apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"] },
      { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
      { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
    ],
    namespaceRules: [
      {
        apiGroups: [""],
        resources: ["secrets"],
        resourceNames: ["weft-identity-issuer"],
        verbs: READ,
      },
      {
        apiGroups: [""],
        resources: ["configmaps"],
        resourceNames: ["weft-identity-trust-roots"],
        verbs: READ,
      },
    ],
  },
  {
    name: "destination",
    port: 8086,
    portName: "grpc",
    clusterRules: [
      {
        apiGroups: [""],
        resources: ["services", "endpoints", "pods", "namespaces", "nodes"],
        verbs: READ,
      },
      { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: READ },
      {
        apiGroups: ["apps"],
        resources: ["replicasets", "statefulsets", "daemonsets", "deployments"],
        verbs: READ,
      },
      { apiGroups: ["batch"], resources: ["jobs"], verbs: READ },
      { apiGroups: ["weft.io"], resources: ["serviceprofiles"], verbs: READ },
      {
        apiGroups: ["weft.io"],
        resources: ["serviceprofiles/status"],
        verbs: ["get", "patch", "update"],
      },
    ],
    namespaceRules: [],
  },
  {
    name: "tap",
    port: 8088,
    portName: "grpc",
    clusterRules: [
      {
        apiGroups: ["", "apps", "batch"],
        resources: [
          "pods",
          "deployments",
          "replicasets",
          "statefulsets",
          "daemonsets",
          "jobs",
          "namespaces",
          "services",
        ],
        verbs: READ,
      },
    ],
    namespaceRules: [],
  },
  {
    name: "api",
    port: 8085,
    portName: "http",
    clusterRules: [
      {
        apiGroups: ["", "apps", "batch"],
        resources: [
          "pods",
          "services",
          "namespaces",
          "deployments",
          "replicasets",
          "statefulsets",
          "daemonsets",
          "jobs",
          "cronjobs",
        ],
        verbs: READ,
      },
      { apiGroups: ["weft.io"], resources: ["meshes", "serviceprofiles"], verbs: READ },
    ],
    namespaceRules: [],
  },
  { name: "web", port: 8084, portName: "http", clusterRules: [], namespaceRules: [] },
  {
    name: "prometheus",
    port: 9090,
    portName: "http",
    clusterRules: [
      { apiGroups: [""], resources: ["pods", "nodes", "endpoints", "services"], verbs: READ },
    ],
    namespaceRules: [],
  },
];

function externalPrometheus(mesh: Mesh): boolean {
  return Boolean(mesh.spec?.components?.prometheus?.externalURL);
}

/** Identity and destination always run; the others as the Mesh asks (defaults from the CRD). */
export function enabledInSpec(mesh: Mesh, name: ComponentName): boolean {
  if (name === "identity" || name === "destination") return true;
  if (name === "prometheus" && externalPrometheus(mesh)) return false;
  const c = mesh.spec?.components?.[name] as { enabled?: boolean } | undefined;
  return c?.enabled ?? true;
}

export function replicasInSpec(mesh: Mesh, name: ComponentName): number {
  const c = mesh.spec?.components?.[name] as { replicas?: number } | undefined;
  return c?.replicas ?? 1;
}

/** The components to run: enabled in the Mesh and present in this build. */
export function componentsToRun(mesh: Mesh, available: readonly string[]): ComponentDef[] {
  return COMPONENTS.filter((c) => available.includes(c.name) && enabledInSpec(mesh, c.name));
}
