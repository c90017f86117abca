/** Builders of Kubernetes objects for tests and benchmarks of the destination service. */
import type { KubernetesObject } from "@kubernetes/client-node";
import type { ServiceProfileSpec } from "../profiles/spec";
import type { ClusterEvent, Phase } from "./store";

export function serviceObject(
  ns: string,
  name: string,
  ports: { name?: string; port: number; targetPort?: number | string }[],
  opts: { clusterIP?: string; annotations?: Record<string, string> } = {},
): KubernetesObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { namespace: ns, name, annotations: opts.annotations },
    spec: { clusterIP: opts.clusterIP ?? "10.96.0.10", ports },
  } as KubernetesObject;
}

export interface FixtureEndpoint {
  ip: string;
  pod?: string;
  ready?: boolean;
  terminating?: boolean;
  hostname?: string;
}

export function sliceObject(
  ns: string,
  name: string,
  service: string,
  ports: { name?: string; port: number }[],
  endpoints: FixtureEndpoint[],
): KubernetesObject {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { namespace: ns, name, labels: { "kubernetes.io/service-name": service } },
    addressType: "IPv4",
    ports,
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true, terminating: e.terminating ?? false },
      targetRef: e.pod ? { kind: "Pod", name: e.pod, namespace: ns } : undefined,
      hostname: e.hostname,
    })),
  } as KubernetesObject;
}

export function podObject(
  ns: string,
  name: string,
  ip: string,
  opts: {
    meshed?: boolean;
    serviceAccount?: string;
    deployment?: string;
    ports?: { name: string; containerPort: number }[];
    annotations?: Record<string, string>;
  } = {},
): KubernetesObject {
  const hash = "7d9f8b";
  const labels: Record<string, string> = {
    app: opts.deployment ?? name,
    "pod-template-hash": hash,
  };
  const containers: object[] = [{ name: "app", ports: opts.ports ?? [] }];
  if (opts.meshed) {
    labels["weft.io/control-plane-ns"] = "weft-system";
    containers.push({ name: "weft-proxy", ports: [{ name: "weft-proxy", containerPort: 4143 }] });
  }
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      namespace: ns,
      name,
      labels,
      annotations: opts.annotations,
      ownerReferences: opts.deployment
        ? [{ kind: "ReplicaSet", name: `${opts.deployment}-${hash}`, controller: true }]
        : undefined,
    },
    spec: { serviceAccountName: opts.serviceAccount ?? "default", containers },
    status: { podIP: ip, phase: "Running" },
  } as KubernetesObject;
}

export function profileObject(
  ns: string,
  name: string,
  spec: ServiceProfileSpec,
  generation = 1,
): KubernetesObject {
  return {
    apiVersion: "weft.io/v1alpha2",
    kind: "ServiceProfile",
    metadata: { namespace: ns, name, generation },
    spec,
  } as KubernetesObject;
}

export function event(
  kind: ClusterEvent["kind"],
  object: KubernetesObject,
  phase: Phase = "ADDED",
): ClusterEvent {
  return { kind, phase, object };
}
