// Pods, namespaces and a context for the injector's tests.

import type { V1Namespace, V1Pod } from "@kubernetes/client-node";
import { defaultProxySettings } from "./config";
import type { InjectContext } from "./decide";

export function testContext(over: Partial<InjectContext> = {}): InjectContext {
  return {
    controlPlaneNs: "weft-system",
    trustDomain: "cluster.local",
    clusterDomain: "cluster.local",
    trustAnchorsPem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    trustRootSha256: "ab".repeat(32),
    excludedNamespaces: [],
    defaults: defaultProxySettings("0.1.0"),
    nativeSidecarSupported: true,
    ...over,
  };
}

export function testNamespace(
  name: string,
  annotations: Record<string, string> = {},
  labels: Record<string, string> = {},
): V1Namespace {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name, annotations, labels } };
}

export function testPod(
  annotations: Record<string, string> = {},
  over: Partial<V1Pod["spec"]> = {},
): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      generateName: "web-7d9f8-",
      namespace: "shop",
      labels: { app: "web", "pod-template-hash": "7d9f8" },
      annotations,
      ownerReferences: [
        {
          apiVersion: "apps/v1",
          kind: "ReplicaSet",
          name: "web-7d9f8",
          uid: "u1",
          controller: true,
        },
      ],
    },
    spec: {
      serviceAccountName: "web",
      containers: [
        {
          name: "app",
          image: "localhost/demo:1",
          ports: [
            { containerPort: 8080, name: "http" },
            { containerPort: 5432 },
            { containerPort: 53, protocol: "UDP" },
          ],
          readinessProbe: { httpGet: { path: "/healthz", port: 9090 as unknown as number } },
          livenessProbe: { httpGet: { path: "/healthz", port: "http" as unknown as number } },
        },
      ],
      ...over,
    },
  };
}
