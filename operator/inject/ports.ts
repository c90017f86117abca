// Which ports the pod serves: container ports and the ports its probes use.

import type { V1Container, V1Pod, V1Probe } from "@kubernetes/client-node";
import { portInRanges, type PortRange } from "./parse";

function probePort(probe: V1Probe | undefined): number | string | undefined {
  return probe?.httpGet?.port ?? probe?.tcpSocket?.port ?? probe?.grpc?.port;
}

function resolvePort(port: number | string | undefined, c: V1Container): number | undefined {
  if (typeof port === "number") return port;
  if (port === undefined) return undefined;
  if (/^\d+$/.test(port)) return Number(port);
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

function containerPorts(c: V1Container): number[] {
  const declared = (c.ports ?? [])
    .filter((p) => (p.protocol ?? "TCP") === "TCP")
    .map((p) => p.containerPort);
  const probes = [c.livenessProbe, c.readinessProbe, c.startupProbe].map((pr) =>
    resolvePort(probePort(pr), c),
  );
  return [...declared, ...probes.filter((p): p is number => p !== undefined)];
}

/** Sorted, de-duplicated inbound ports of the app containers (and sidecars already declared). */
export function inboundPorts(pod: V1Pod): number[] {
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].flatMap(
    containerPorts,
  );
  return [...new Set(all)].sort((a, b) => a - b);
}

/** Ports the pod serves that are in the given opaque ranges. */
export function opaquePortsUsed(ports: number[], opaque: readonly PortRange[]): number[] {
  return ports.filter((p) => portInRanges(p, opaque));
}
