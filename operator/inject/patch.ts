// The injected pod: init container, proxy, volumes, labels and annotations. Pure.

import type {
  V1Container,
  V1EnvVar,
  V1Pod,
  V1Probe,
  V1SecurityContext,
  V1Volume,
} from "@kubernetes/client-node";
import { imageRef, type ProxySettings } from "./config";
import * as k from "./constants";
import type { InjectContext, InjectMode } from "./decide";
import { formatPortRanges, type PortRange } from "./parse";
import { inboundPorts, opaquePortsUsed } from "./ports";

const SA_NAME_ENV = "_pod_sa";

function fieldEnv(name: string, fieldPath: string): V1EnvVar {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

function svcName(component: string, ctx: InjectContext): string {
  return `weft-${component}.${ctx.controlPlaneNs}.serviceaccount.identity.${ctx.controlPlaneNs}.${ctx.trustDomain}`;
}

function svcAddr(component: string, port: number, ctx: InjectContext): string {
  return `weft-${component}.${ctx.controlPlaneNs}.svc.${ctx.clusterDomain}.:${port}`;
}

function optional(name: string, value: string | undefined): V1EnvVar[] {
  return value === undefined ? [] : [{ name, value }];
}

function identityEnv(ctx: InjectContext): V1EnvVar[] {
  if (ctx.trustAnchorsPem === undefined)
    return [{ name: "WEFT_PROXY_IDENTITY_DISABLED", value: "true" }];
  return [
    { name: "WEFT_PROXY_IDENTITY_DIR", value: k.IDENTITY_DIR },
    { name: "WEFT_PROXY_IDENTITY_TRUST_ANCHORS", value: ctx.trustAnchorsPem },
    { name: "WEFT_PROXY_IDENTITY_TOKEN_FILE", value: `${k.TOKEN_DIR}/${k.TOKEN_FILE}` },
    { name: "WEFT_PROXY_IDENTITY_SVC_ADDR", value: svcAddr("identity", 8080, ctx) },
    { name: "WEFT_PROXY_IDENTITY_SVC_NAME", value: svcName("identity", ctx) },
    {
      name: "WEFT_PROXY_IDENTITY_LOCAL_NAME",
      value: `$(${SA_NAME_ENV}).$(_pod_ns).serviceaccount.identity.${ctx.controlPlaneNs}.${ctx.trustDomain}`,
    },
  ];
}

function timeoutEnv(s: ProxySettings): V1EnvVar[] {
  return [
    ...optional("WEFT_PROXY_INBOUND_CONNECT_TIMEOUT", s.inboundConnectTimeout),
    ...optional("WEFT_PROXY_OUTBOUND_CONNECT_TIMEOUT", s.outboundConnectTimeout),
    ...optional("WEFT_PROXY_INBOUND_DETECT_TIMEOUT", s.inboundDetectTimeout),
    ...optional("WEFT_PROXY_OUTBOUND_DETECT_TIMEOUT", s.outboundDetectTimeout),
    ...optional("WEFT_PROXY_SHUTDOWN_GRACE_PERIOD", s.shutdownGracePeriod),
  ];
}

function portsEnv(s: ProxySettings, ports: number[], opaque: string): V1EnvVar[] {
  const require = formatPortRanges(s.requireIdentityInboundPorts);
  return [
    { name: "WEFT_PROXY_INBOUND_LISTEN_ADDR", value: `0.0.0.0:${s.inboundPort}` },
    { name: "WEFT_PROXY_OUTBOUND_LISTEN_ADDR", value: `127.0.0.1:${s.outboundPort}` },
    { name: "WEFT_PROXY_ADMIN_LISTEN_ADDR", value: `0.0.0.0:${s.adminPort}` },
    { name: "WEFT_PROXY_CONTROL_LISTEN_ADDR", value: `0.0.0.0:${s.controlPort}` },
    fieldEnv("WEFT_PROXY_INBOUND_IPS", "status.podIPs"),
    { name: "WEFT_PROXY_INBOUND_PORTS", value: ports.join(",") },
    ...optional(
      "WEFT_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION",
      opaque === "" ? undefined : opaque,
    ),
    ...optional("WEFT_PROXY_INBOUND_PORTS_REQUIRE_IDENTITY", require === "" ? undefined : require),
  ];
}

export interface ProxyEnvInput {
  settings: ProxySettings;
  mode: InjectMode;
  ports: number[];
  opaque: string;
}

export function proxyEnv(input: ProxyEnvInput, ctx: InjectContext): V1EnvVar[] {
  const s = input.settings;
  return [
    fieldEnv("_pod_name", "metadata.name"),
    fieldEnv("_pod_ns", "metadata.namespace"),
    fieldEnv("_pod_nodeName", "spec.nodeName"),
    fieldEnv(SA_NAME_ENV, "spec.serviceAccountName"),
    { name: "WEFT_PROXY_LOG", value: s.logLevel },
    { name: "WEFT_PROXY_LOG_FORMAT", value: s.logFormat },
    ...portsEnv(s, input.ports, input.opaque),
    { name: "WEFT_PROXY_DESTINATION_SVC_ADDR", value: svcAddr("destination", 8086, ctx) },
    { name: "WEFT_PROXY_DESTINATION_SVC_NAME", value: svcName("destination", ctx) },
    {
      name: "WEFT_PROXY_DESTINATION_CONTEXT",
      value: '{"ns":"$(_pod_ns)","nodeName":"$(_pod_nodeName)","pod":"$(_pod_name)"}',
    },
    { name: "WEFT_PROXY_DESTINATION_PROFILE_SUFFIXES", value: `svc.${ctx.clusterDomain}.` },
    ...identityEnv(ctx),
    { name: "WEFT_PROXY_TAP_SVC_NAME", value: svcName("tap", ctx) },
    { name: "WEFT_PROXY_SHUTDOWN_ENDPOINT_ENABLED", value: String(s.shutdownEndpoint) },
    ...timeoutEnv(s),
    ...(input.mode === "ingress" ? [{ name: "WEFT_PROXY_INGRESS_MODE", value: "true" }] : []),
    ...s.additionalEnv,
  ];
}

function adminProbe(path: string, extra: Partial<V1Probe>): V1Probe {
  return { httpGet: { path, port: "weft-admin" as unknown as number }, ...extra };
}

export function proxySecurityContext(uid: number): V1SecurityContext {
  return {
    runAsUser: uid,
    runAsNonRoot: true,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

function resources(s: ProxySettings): V1Container["resources"] {
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (s.resources.cpuRequest) requests.cpu = s.resources.cpuRequest;
  if (s.resources.memoryRequest) requests.memory = s.resources.memoryRequest;
  if (s.resources.cpuLimit) limits.cpu = s.resources.cpuLimit;
  if (s.resources.memoryLimit) limits.memory = s.resources.memoryLimit;
  return {
    ...(Object.keys(requests).length ? { requests } : {}),
    ...(Object.keys(limits).length ? { limits } : {}),
  };
}

export function proxyContainer(
  input: ProxyEnvInput,
  native: boolean,
  ctx: InjectContext,
): V1Container {
  const s = input.settings;
  const c: V1Container = {
    name: k.PROXY_CONTAINER,
    image: imageRef(s.image, s.version),
    imagePullPolicy: s.imagePullPolicy,
    env: proxyEnv(input, ctx),
    ports: [
      { name: "weft-proxy", containerPort: s.inboundPort },
      { name: "weft-admin", containerPort: s.adminPort },
      { name: "weft-tap", containerPort: s.controlPort },
    ],
    livenessProbe: adminProbe("/live", {
      initialDelaySeconds: 2,
      periodSeconds: 10,
      timeoutSeconds: 1,
    }),
    readinessProbe: adminProbe("/ready", {
      initialDelaySeconds: 1,
      periodSeconds: 5,
      timeoutSeconds: 1,
    }),
    resources: resources(s),
    securityContext: proxySecurityContext(s.uid),
    terminationMessagePolicy: "FallbackToLogsOnError",
    volumeMounts: [
      { name: k.VOLUME_IDENTITY, mountPath: k.IDENTITY_DIR },
      { name: k.VOLUME_TOKEN, mountPath: k.TOKEN_DIR, readOnly: true },
      { name: k.VOLUME_PROXY_TMP, mountPath: "/tmp" },
    ],
  };
  if (native) {
    c.restartPolicy = "Always";
    c.startupProbe = adminProbe("/ready", {
      periodSeconds: 1,
      failureThreshold: 120,
      timeoutSeconds: 1,
    });
  } else if (s.await) {
    c.lifecycle = { postStart: { exec: { command: ["weft-proxy", "await", "--timeout=2m"] } } };
  }
  return c;
}

function ignoredInbound(s: ProxySettings): string {
  const ranges: PortRange[] = [
    [s.controlPort, s.controlPort],
    [s.adminPort, s.adminPort],
    ...s.skipInboundPorts,
  ];
  return formatPortRanges(ranges);
}

export function initContainer(s: ProxySettings): V1Container {
  const args = [
    "init",
    "--incoming-proxy-port",
    `${s.inboundPort}`,
    "--outgoing-proxy-port",
    `${s.outboundPort}`,
  ];
  args.push("--proxy-uid", `${s.uid}`, "--inbound-ports-to-ignore", ignoredInbound(s));
  if (s.skipOutboundPorts.length)
    args.push("--outbound-ports-to-ignore", formatPortRanges(s.skipOutboundPorts));
  if (s.skipSubnets.length) args.push("--subnets-to-ignore", s.skipSubnets.join(","));
  return {
    name: k.INIT_CONTAINER,
    image: imageRef(s.initImage ?? s.image, s.version),
    imagePullPolicy: s.imagePullPolicy,
    args,
    resources: {
      requests: { cpu: "10m", memory: "10Mi" },
      limits: { cpu: "100m", memory: "50Mi" },
    },
    securityContext: {
      runAsUser: 0,
      runAsNonRoot: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
    terminationMessagePolicy: "FallbackToLogsOnError",
    volumeMounts: [{ name: k.VOLUME_XTABLES, mountPath: "/run" }],
  };
}

export function proxyVolumes(): V1Volume[] {
  return [
    { name: k.VOLUME_IDENTITY, emptyDir: { medium: "Memory" } },
    {
      name: k.VOLUME_TOKEN,
      projected: {
        sources: [
          {
            serviceAccountToken: {
              audience: k.IDENTITY_AUDIENCE,
              expirationSeconds: k.IDENTITY_TOKEN_SECONDS,
              path: k.TOKEN_FILE,
            },
          },
        ],
      },
    },
    { name: k.VOLUME_XTABLES, emptyDir: {} },
    { name: k.VOLUME_PROXY_TMP, emptyDir: { sizeLimit: "64Mi" } },
  ];
}

function deploymentOf(pod: V1Pod, rsName: string): Record<string, string> {
  const hash = pod.metadata?.labels?.["pod-template-hash"];
  if (!hash || !rsName.endsWith(`-${hash}`)) return {};
  return { "weft.io/proxy-deployment": rsName.slice(0, -(hash.length + 1)) };
}

/** The owner as `weft.io/proxy-<kind>` labels: ReplicaSets of a Deployment also name the Deployment. */
export function ownerLabels(pod: V1Pod): Record<string, string> {
  const refs = pod.metadata?.ownerReferences ?? [];
  const owner = refs.find((o) => o.controller) ?? refs[0];
  if (!owner) return {};
  const labels: Record<string, string> = {
    [`weft.io/proxy-${owner.kind.toLowerCase()}`]: owner.name,
  };
  return owner.kind === "ReplicaSet" ? { ...labels, ...deploymentOf(pod, owner.name) } : labels;
}

function opaqueFor(s: ProxySettings, ports: number[]): string {
  if (s.opaquePorts !== undefined) return formatPortRanges(s.opaquePorts);
  return opaquePortsUsed(ports, s.defaultOpaquePorts).join(",");
}

function metadataFor(
  pod: V1Pod,
  nsName: string,
  s: ProxySettings,
  opaque: string,
  ctx: InjectContext,
): V1Pod["metadata"] {
  const annotations: Record<string, string> = {
    ...pod.metadata?.annotations,
    [k.ANNOTATION_PROXY_VERSION]: s.version,
  };
  if (ctx.trustRootSha256) annotations[k.ANNOTATION_TRUST_ROOT_SHA256] = ctx.trustRootSha256;
  annotations[k.ANNOTATION_IDENTITY_MODE] =
    ctx.trustAnchorsPem === undefined ? "disabled" : "default";
  if (opaque !== "") annotations[k.ANNOTATION_OPAQUE_PORTS] = opaque;
  const labels = {
    ...pod.metadata?.labels,
    [k.LABEL_CONTROL_PLANE_NS]: ctx.controlPlaneNs,
    [k.LABEL_WORKLOAD_NS]: nsName,
    ...ownerLabels(pod),
  };
  return { ...pod.metadata, labels, annotations };
}

/** Places the proxy as a native sidecar right after weft-init, or first among the containers. */
function placeContainers(
  pod: V1Pod,
  init: V1Container,
  proxy: V1Container,
  native: boolean,
): V1Pod["spec"] {
  const spec = pod.spec ?? { containers: [] };
  const inits = spec.initContainers ?? [];
  if (native) return { ...spec, initContainers: [init, proxy, ...inits] };
  return { ...spec, initContainers: [init, ...inits], containers: [proxy, ...spec.containers] };
}

export function injectPod(
  pod: V1Pod,
  nsName: string,
  mode: InjectMode,
  s: ProxySettings,
  ctx: InjectContext,
): V1Pod {
  const ports = inboundPorts(pod);
  const opaque = opaqueFor(s, ports);
  const native = s.nativeSidecar && ctx.nativeSidecarSupported;
  const proxy = proxyContainer({ settings: s, mode, ports, opaque }, native, ctx);
  const spec = placeContainers(pod, initContainer(s), proxy, native);
  return {
    ...pod,
    metadata: metadataFor(pod, nsName, s, opaque, ctx),
    spec: { ...spec!, volumes: [...(pod.spec?.volumes ?? []), ...proxyVolumes()] },
  };
}
