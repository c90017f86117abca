// The heartbeat: a daily CronJob, only when the Mesh enables it and this build has the component.
// It writes an anonymous usage summary to its log and posts it only when a URL is configured.

import type { KubernetesObject } from "@kubernetes/client-node";
import type { Mesh } from "../../crds/types";
import * as n from "./names";

export function heartbeatEnabled(mesh: Mesh, available: readonly string[]): boolean {
  return available.includes("heartbeat") && mesh.spec?.components?.heartbeat?.enabled === true;
}

function env(mesh: Mesh): { name: string; value: string }[] {
  const url = mesh.spec?.components?.heartbeat?.url;
  return [
    { name: "WEFT_VERSION", value: mesh.spec?.version ?? "0.1.0" },
    { name: "WEFT_CONTROL_PLANE_NS", value: n.NS },
    ...(url ? [{ name: "WEFT_HEARTBEAT_URL", value: url }] : []),
  ];
}

/** ServiceAccount, read-only ClusterRole + binding (pods, namespaces, nodes for the summary) and the CronJob. */
export function heartbeatObjects(
  mesh: Mesh,
  available: readonly string[],
  image: string,
): (KubernetesObject & Record<string, unknown>)[] {
  if (!heartbeatEnabled(mesh, available)) return [];
  const labels = {
    [n.LABEL_MESH]: mesh.metadata?.name ?? "weft",
    [n.LABEL_MANAGED_BY]: n.MANAGED_BY,
    [n.LABEL_CP_NS]: n.NS,
    [n.LABEL_COMPONENT]: "heartbeat",
  };
  const name = "weft-heartbeat";
  const rbac = "rbac.authorization.k8s.io/v1";
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: n.NS, labels } },
    {
      apiVersion: rbac,
      kind: "ClusterRole",
      metadata: { name, labels },
      rules: [{ apiGroups: [""], resources: ["pods", "namespaces", "nodes"], verbs: ["list"] }],
    },
    {
      apiVersion: rbac,
      kind: "ClusterRoleBinding",
      metadata: { name, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
      subjects: [{ kind: "ServiceAccount", name, namespace: n.NS }],
    },
    {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: { name, namespace: n.NS, labels },
      spec: {
        schedule: "17 3 * * *",
        concurrencyPolicy: "Forbid",
        successfulJobsHistoryLimit: 1,
        failedJobsHistoryLimit: 1,
        jobTemplate: {
          spec: {
            backoffLimit: 1,
            activeDeadlineSeconds: 300,
            template: {
              metadata: { labels },
              spec: {
                serviceAccountName: name,
                restartPolicy: "Never",
                securityContext: {
                  runAsNonRoot: true,
                  runAsUser: 65532,
                  seccompProfile: { type: "RuntimeDefault" },
                },
                containers: [
                  {
                    name: "heartbeat",
                    image,
                    args: ["/app/weft-controller.js", "heartbeat"],
                    env: env(mesh),
                    securityContext: {
                      allowPrivilegeEscalation: false,
                      readOnlyRootFilesystem: true,
                      capabilities: { drop: ["ALL"] },
                    },
                  },
                ],
              },
            },
          },
        },
      },
    },
  ];
}
