// Mesh → the objects that make its control plane. Pure: the same Mesh, availability and trust
// material always give the same objects, so server-side apply of them is idempotent.

import { createHash } from "node:crypto";
import type {
  KubernetesObject,
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1PodSpec,
} from "@kubernetes/client-node";
import type { Mesh } from "../../crds/types";
import { componentsToRun, replicasInSpec, type ComponentDef } from "./components";
import { heartbeatObjects } from "./heartbeat";
import * as n from "./names";
import {
  PROMETHEUS_CONFIG_CM,
  prometheusConfig,
  prometheusContainer,
  prometheusVolumes,
  targetsContainer,
} from "./prometheus";

export interface TrustMaterial {
  anchorsPem: string;
  /** Set when the operator generated the issuer; a user-supplied issuer is never written. */
  generatedIssuer?: { "tls.crt": string; "tls.key": string; "ca.crt": string };
}

export interface DesiredInput {
  mesh: Mesh;
  /** Components present in this build (operator/<name>/main.ts). */
  available: readonly string[];
  trust?: TrustMaterial;
  /** Used when the Mesh names no controllerImage. */
  defaultImage?: string;
}

type Obj = KubernetesObject & Record<string, unknown>;

export function meshVersion(mesh: Mesh): string {
  return mesh.spec?.version ?? "0.1.0";
}

export function controllerImage(input: DesiredInput): string {
  const img = input.mesh.spec?.controllerImage ?? input.defaultImage ?? n.DEFAULT_CONTROLLER_IMAGE;
  const last = img.slice(img.lastIndexOf("/") + 1);
  return last.includes(":") || img.includes("@") ? img : `${img}:${meshVersion(input.mesh)}`;
}

export function issuerNames(mesh: Mesh): { secret: string; configMap: string } {
  const issuer = mesh.spec?.identity?.issuer;
  return {
    secret: issuer?.secretName ?? n.ISSUER_SECRET,
    configMap: issuer?.trustAnchorsConfigMap ?? n.TRUST_ROOTS_CM,
  };
}

function labels(mesh: Mesh, component?: string): Record<string, string> {
  const l: Record<string, string> = {
    [n.LABEL_MESH]: mesh.metadata?.name ?? "weft",
    [n.LABEL_MANAGED_BY]: n.MANAGED_BY,
    [n.LABEL_CP_NS]: n.NS,
    "app.kubernetes.io/part-of": "weft",
  };
  if (component) l[n.LABEL_COMPONENT] = component;
  return l;
}

function meta(mesh: Mesh, name: string, component?: string, namespaced = true): Obj["metadata"] {
  return { name, ...(namespaced ? { namespace: n.NS } : {}), labels: labels(mesh, component) };
}

export function trustObjects(mesh: Mesh, trust: TrustMaterial | undefined): Obj[] {
  if (!trust?.generatedIssuer) return [];
  const names = issuerNames(mesh);
  return [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: meta(mesh, names.configMap, "identity"),
      data: { [n.TRUST_ROOTS_KEY]: trust.anchorsPem },
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      type: "kubernetes.io/tls",
      metadata: meta(mesh, names.secret, "identity"),
      stringData: trust.generatedIssuer,
    },
  ];
}

function rbacObjects(mesh: Mesh, c: ComponentDef): Obj[] {
  const name = `weft-${c.name}`;
  const sa = { kind: "ServiceAccount", name, namespace: n.NS };
  const out: Obj[] = [
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: meta(mesh, name, c.name),
      automountServiceAccountToken: true,
    },
  ];
  const rbac = "rbac.authorization.k8s.io/v1";
  if (c.clusterRules.length) {
    out.push({
      apiVersion: rbac,
      kind: "ClusterRole",
      metadata: meta(mesh, name, c.name, false),
      rules: c.clusterRules,
    });
    out.push({
      apiVersion: rbac,
      kind: "ClusterRoleBinding",
      metadata: meta(mesh, name, c.name, false),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
      subjects: [sa],
    });
  }
  if (c.namespaceRules.length) {
    out.push({
      apiVersion: rbac,
      kind: "Role",
      metadata: meta(mesh, name, c.name),
      rules: namespaceRules(mesh, c),
    });
    out.push({
      apiVersion: rbac,
      kind: "RoleBinding",
      metadata: meta(mesh, name, c.name),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [sa],
    });
  }
  return out;
}

/** Identity reads exactly the issuer Secret and anchors ConfigMap the Mesh names. */
function namespaceRules(mesh: Mesh, c: ComponentDef): ComponentDef["namespaceRules"] {
  const names = issuerNames(mesh);
  return c.namespaceRules.map((r) => {
    if (r.resources?.includes("secrets")) return { ...r, resourceNames: [names.secret] };
    if (r.resources?.includes("configmaps")) return { ...r, resourceNames: [names.configMap] };
    return r;
  });
}

function identityEnv(mesh: Mesh): V1EnvVar[] {
  const names = issuerNames(mesh);
  const id = mesh.spec?.identity ?? {};
  return [
    { name: "WEFT_IDENTITY_ISSUER_SECRET", value: names.secret },
    { name: "WEFT_IDENTITY_TRUST_ANCHORS_CONFIGMAP", value: names.configMap },
    { name: "WEFT_IDENTITY_ISSUANCE_LIFETIME", value: id.issuanceLifetime ?? "24h" },
    { name: "WEFT_IDENTITY_CLOCK_SKEW_ALLOWANCE", value: id.clockSkewAllowance ?? "20s" },
  ];
}

function extraEnv(mesh: Mesh, c: ComponentDef): V1EnvVar[] {
  if (c.name === "identity") return identityEnv(mesh);
  if (c.name === "web") return [{ name: "WEFT_API_ADDR", value: `weft-api.${n.NS}.svc:8085` }];
  if (c.name !== "api") return [];
  const promUrl = mesh.spec?.components?.prometheus?.externalURL;
  return [
    { name: "WEFT_PROMETHEUS_URL", value: promUrl ?? `http://weft-prometheus.${n.NS}.svc:9090` },
  ];
}

function componentEnv(mesh: Mesh, c: ComponentDef): V1EnvVar[] {
  return [
    { name: "WEFT_CONTROL_PLANE_NS", value: n.NS },
    { name: "WEFT_TRUST_DOMAIN", value: mesh.spec?.trustDomain ?? "cluster.local" },
    { name: "WEFT_VERSION", value: meshVersion(mesh) },
    { name: "WEFT_LISTEN_PORT", value: String(c.port) },
    { name: "WEFT_POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    ...extraEnv(mesh, c),
  ];
}

function container(input: DesiredInput, c: ComponentDef): V1Container {
  const probe = { tcpSocket: { port: c.portName as unknown as number } };
  return {
    name: c.name,
    image: controllerImage(input),
    imagePullPolicy: "IfNotPresent",
    args: ["/app/weft-controller.js", c.name],
    env: componentEnv(input.mesh, c),
    ports: [{ name: c.portName, containerPort: c.port }],
    readinessProbe: { ...probe, initialDelaySeconds: 1, periodSeconds: 3, timeoutSeconds: 2 },
    livenessProbe: { ...probe, initialDelaySeconds: 20, periodSeconds: 10, timeoutSeconds: 2 },
    resources: { requests: { cpu: "20m", memory: "64Mi" }, limits: { memory: "256Mi" } },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: 65532,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
  };
}

function podSpec(input: DesiredInput, c: ComponentDef): V1PodSpec {
  const prometheus = c.name === "prometheus";
  const spec: V1PodSpec = {
    serviceAccountName: `weft-${c.name}`,
    containers: prometheus
      ? [prometheusContainer(input.mesh, c.portName), targetsContainer(controllerImage(input))]
      : [container(input, c)],
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      seccompProfile: { type: "RuntimeDefault" },
    },
    terminationGracePeriodSeconds: 30,
  };
  if (prometheus) spec.volumes = prometheusVolumes();
  if (c.name === "identity") {
    const names = issuerNames(input.mesh);
    spec.volumes = [
      { name: "issuer", secret: { secretName: names.secret } },
      { name: "trust-anchors", configMap: { name: names.configMap } },
    ];
    spec.containers[0].volumeMounts = [
      { name: "issuer", mountPath: "/var/run/weft/identity/issuer", readOnly: true },
      { name: "trust-anchors", mountPath: "/var/run/weft/identity/trust-anchors", readOnly: true },
    ];
  }
  return spec;
}

/** Changes whenever what the component runs changes, so such a spec change rolls it. */
export function specHash(o: unknown): string {
  return createHash("sha256").update(JSON.stringify(o)).digest("hex").slice(0, 16);
}

/** What a component reads from a ConfigMap we write: part of its hash, so a change rolls it. */
function configOf(c: ComponentDef): Record<string, string> | undefined {
  return c.name === "prometheus" ? { "prometheus.yml": prometheusConfig() } : undefined;
}

function configMap(mesh: Mesh, c: ComponentDef): Obj[] {
  const data = configOf(c);
  if (!data) return [];
  const name = c.name === "prometheus" ? PROMETHEUS_CONFIG_CM : `weft-${c.name}-config`;
  return [{ apiVersion: "v1", kind: "ConfigMap", metadata: meta(mesh, name, c.name), data }];
}

function deployment(input: DesiredInput, c: ComponentDef): V1Deployment & Obj {
  const spec = podSpec(input, c);
  const hash = specHash(configOf(c) ? { spec, config: configOf(c) } : spec);
  const podLabels = { ...labels(input.mesh, c.name) };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: meta(input.mesh, `weft-${c.name}`, c.name),
    spec: {
      replicas: replicasInSpec(input.mesh, c.name),
      selector: {
        matchLabels: { [n.LABEL_COMPONENT]: c.name, [n.LABEL_MESH]: podLabels[n.LABEL_MESH] },
      },
      template: {
        metadata: { labels: podLabels, annotations: { [n.ANNOTATION_SPEC_HASH]: hash } },
        spec,
      },
    },
  };
}

function service(mesh: Mesh, c: ComponentDef): Obj {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(mesh, `weft-${c.name}`, c.name),
    spec: {
      type: "ClusterIP",
      selector: { [n.LABEL_COMPONENT]: c.name, [n.LABEL_MESH]: mesh.metadata?.name ?? "weft" },
      ports: [{ name: c.portName, port: c.port, targetPort: c.portName }],
    },
  };
}

/** Everything, in apply order: trust material, then per component RBAC, config, Deployment, Service. */
export function desiredObjects(input: DesiredInput): Obj[] {
  const comps = componentsToRun(input.mesh, input.available);
  return [
    ...trustObjects(input.mesh, input.trust),
    ...comps.flatMap((c) => [
      ...rbacObjects(input.mesh, c),
      ...configMap(input.mesh, c),
      deployment(input, c),
      service(input.mesh, c),
    ]),
    ...heartbeatObjects(input.mesh, input.available, controllerImage(input)),
  ];
}
