// The injector's context from the Mesh and its trust anchors. Pure.

import type { Mesh, Quantity } from "../../crds/types";
import { defaultProxySettings, type ProxySettings } from "./config";
import { CONTROL_PLANE_NS } from "./constants";
import type { InjectContext } from "./decide";
import { parsePortRanges } from "./parse";

export const DEFAULT_PROXY_IMAGE = "docker.io/weft/proxy";

function q(v: Quantity | undefined): string | undefined {
  return v === undefined ? undefined : String(v);
}

type ProxyDefaults = NonNullable<NonNullable<Mesh["spec"]>["proxy"]>;

function resourcesOf(p: ProxyDefaults): ProxySettings["resources"] {
  return {
    cpuRequest: q(p.cpu?.request),
    cpuLimit: q(p.cpu?.limit),
    memoryRequest: q(p.memory?.request),
    memoryLimit: q(p.memory?.limit),
  };
}

function ranges(
  v: string | undefined,
  fallback: ProxySettings["skipInboundPorts"],
): ProxySettings["skipInboundPorts"] {
  return v === undefined ? fallback : (parsePortRanges(v) ?? fallback);
}

function baseSettings(mesh: Mesh | undefined, p: ProxyDefaults): ProxySettings {
  const version = p.version ?? mesh?.spec?.version ?? "0.1.0";
  return defaultProxySettings(version, p.image ?? DEFAULT_PROXY_IMAGE);
}

function proxyDefaults(mesh: Mesh | undefined): ProxySettings {
  const p: ProxyDefaults = mesh?.spec?.proxy ?? {};
  const base = baseSettings(mesh, p);
  const set = Object.fromEntries(
    (["logLevel", "logFormat", "nativeSidecar", "await"] as const)
      .filter((k) => p[k] !== undefined)
      .map((k) => [k, p[k]]),
  );
  return {
    ...base,
    ...set,
    resources: resourcesOf(p),
    defaultOpaquePorts: ranges(p.opaquePorts, base.defaultOpaquePorts),
    skipInboundPorts: ranges(p.skipInboundPorts, []),
    skipOutboundPorts: ranges(p.skipOutboundPorts, []),
  };
}

export interface TrustView {
  anchorsPem?: string;
  sha256?: string;
}

export function contextFromMesh(
  mesh: Mesh | undefined,
  trust: TrustView,
  nativeSidecarSupported: boolean,
): InjectContext {
  return {
    controlPlaneNs: CONTROL_PLANE_NS,
    trustDomain: mesh?.spec?.trustDomain ?? "cluster.local",
    clusterDomain: "cluster.local",
    trustAnchorsPem: trust.anchorsPem,
    trustRootSha256: trust.sha256,
    excludedNamespaces: mesh?.spec?.excludedNamespaces ?? [],
    defaults: proxyDefaults(mesh),
    nativeSidecarSupported,
  };
}

/** Native sidecars are on by default from Kubernetes 1.29. */
export function supportsNativeSidecars(major: string, minor: string): boolean {
  const ma = Number(major.replace(/\D/g, ""));
  const mi = Number(minor.replace(/\D/g, ""));
  return ma > 1 || (ma === 1 && mi >= 29);
}
