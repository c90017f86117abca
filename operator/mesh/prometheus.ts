// The bundled Prometheus: its scrape configuration, its container, and reading the mTLS share of
// meshed traffic back from it for the Mesh status. Pure, except queryMtlsShare (HTTP).

import type { V1Container, V1Volume } from "@kubernetes/client-node";
import { DEFAULT_PROMETHEUS_IMAGE } from "../../crds/mesh.schema";
import type { Mesh } from "../../crds/types";
import * as n from "./names";

export const PROMETHEUS_PORT = 9090;
export const PROMETHEUS_CONFIG_CM = "weft-prometheus-config";
const CONFIG_DIR = "/etc/prometheus";
const DATA_DIR = "/data";

export function prometheusImage(mesh: Mesh): string {
  return mesh.spec?.components?.prometheus?.image ?? DEFAULT_PROMETHEUS_IMAGE;
}

/** Where the Mesh's metrics live: the user's Prometheus, else the bundled one; none if disabled. */
export function prometheusUrl(mesh: Mesh): string | undefined {
  const prom = mesh.spec?.components?.prometheus;
  if (prom?.externalURL) return prom.externalURL.replace(/\/+$/, "");
  if (prom?.enabled === false) return undefined;
  return `http://weft-prometheus.${n.NS}.svc:${PROMETHEUS_PORT}`;
}

/** Where the targets sidecar (`weft-controller prometheus`) answers in the Prometheus pod. */
export const TARGETS_ADDR = "127.0.0.1:9091";

/**
 * Scrapes every proxy's admin port every 10 s. Targets come from the sidecar over Prometheus's
 * HTTP discovery, already labelled as Linkerd labels them (namespace, pod, the owner such as
 * `deployment`, control_plane_ns).
 */
export function prometheusConfig(
  o: { targetsAddr?: string; interval?: string; selfPort?: number } = {},
): string {
  const interval = o.interval ?? "10s";
  const config = {
    global: { scrape_interval: interval, evaluation_interval: interval },
    scrape_configs: [
      {
        job_name: "weft-proxy",
        http_sd_configs: [
          { url: `http://${o.targetsAddr ?? TARGETS_ADDR}/targets`, refresh_interval: interval },
        ],
      },
      {
        job_name: "prometheus",
        static_configs: [{ targets: [`localhost:${o.selfPort ?? PROMETHEUS_PORT}`] }],
      },
    ],
  };
  // JSON is YAML: Prometheus reads it as its configuration file.
  return `${JSON.stringify(config, null, 2)}\n`;
}

const RESTRICTED = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  runAsUser: 65532,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" as const },
};

/** The sidecar that discovers the proxies for Prometheus, from the controller image. */
export function targetsContainer(controllerImage: string): V1Container {
  return {
    name: "targets",
    image: controllerImage,
    imagePullPolicy: "IfNotPresent",
    args: ["/app/weft-controller.js", "prometheus", "--addr", TARGETS_ADDR],
    resources: { requests: { cpu: "10m", memory: "48Mi" }, limits: { memory: "256Mi" } },
    // It answers on loopback only (the pod's own Prometheus); kubelet probes could not reach it.
    securityContext: RESTRICTED,
  };
}

export function prometheusContainer(mesh: Mesh, portName: string): V1Container {
  const http = { port: portName as unknown as number };
  return {
    name: "prometheus",
    image: prometheusImage(mesh),
    imagePullPolicy: "IfNotPresent",
    args: [
      `--config.file=${CONFIG_DIR}/prometheus.yml`,
      `--storage.tsdb.path=${DATA_DIR}`,
      "--storage.tsdb.retention.time=6h",
      `--web.listen-address=:${PROMETHEUS_PORT}`,
    ],
    ports: [{ name: portName, containerPort: PROMETHEUS_PORT }],
    readinessProbe: {
      httpGet: { path: "/-/ready", ...http },
      initialDelaySeconds: 1,
      periodSeconds: 3,
      timeoutSeconds: 2,
    },
    livenessProbe: {
      httpGet: { path: "/-/healthy", ...http },
      initialDelaySeconds: 30,
      periodSeconds: 10,
      timeoutSeconds: 2,
    },
    resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "1Gi" } },
    securityContext: RESTRICTED,
    volumeMounts: [
      { name: "config", mountPath: CONFIG_DIR, readOnly: true },
      { name: "data", mountPath: DATA_DIR },
    ],
  };
}

export function prometheusVolumes(): V1Volume[] {
  return [
    { name: "config", configMap: { name: PROMETHEUS_CONFIG_CM } },
    { name: "data", emptyDir: { sizeLimit: "2Gi" } },
  ];
}

/**
 * The share of the HTTP requests meshed pods sent (outbound, answered by a server) over mTLS in
 * the last two minutes. Answers the proxy made itself (`error` set: timeouts, no endpoint) never
 * reached a peer, so they count neither way. Two minutes spans several 10 s scrapes, so one
 * missed scrape does not blank it.
 */
export const MTLS_SHARE_QUERY =
  'sum(rate(response_total{direction="outbound",error="",tls="true"}[2m])) / sum(rate(response_total{direction="outbound",error=""}[2m]))';

interface QueryAnswer {
  status?: string;
  data?: { result?: { value?: [number, string] }[] };
}

/** The scalar of an instant-query answer, or undefined when it has none (no traffic: 0/0). */
export function shareFromQueryResult(body: unknown): number | undefined {
  const answer = (typeof body === "object" && body !== null ? body : {}) as QueryAnswer;
  if (answer.status !== "success") return undefined;
  const first = (answer.data?.result ?? [])[0];
  return asShare(Number(first?.value?.[1]));
}

function asShare(value: number): number | undefined {
  return Number.isFinite(value) && value >= 0 && value <= 1 ? value : undefined;
}

/** Asks Prometheus for the mTLS share; undefined when it cannot answer (not up yet, no traffic). */
export async function queryMtlsShare(
  baseUrl: string,
  timeoutMs = 2000,
): Promise<number | undefined> {
  const url = `${baseUrl}/api/v1/query?query=${encodeURIComponent(MTLS_SHARE_QUERY)}`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return undefined;
    return shareFromQueryResult(await res.json());
  } catch {
    return undefined;
  }
}
