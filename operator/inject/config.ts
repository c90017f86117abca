// Proxy settings: the Mesh's defaults, overridden by `config.weft.io/*` annotations
// (namespace values inherited by pods that lack them).

import {
  CONFIG_PREFIX,
  DEFAULT_OPAQUE_PORTS,
  PORT_ADMIN,
  PORT_CONTROL,
  PORT_INBOUND,
  PORT_OUTBOUND,
  PROXY_UID,
} from "./constants";
import { InvalidAnnotationError } from "./errors";
import * as p from "./parse";

export interface ProxyResources {
  cpuRequest?: string;
  cpuLimit?: string;
  memoryRequest?: string;
  memoryLimit?: string;
}

export interface ProxySettings {
  image: string;
  version: string;
  initImage?: string;
  imagePullPolicy: string;
  inboundPort: number;
  outboundPort: number;
  adminPort: number;
  controlPort: number;
  /** Set when an annotation lists the opaque ports explicitly; else the defaults apply. */
  opaquePorts?: p.PortRange[];
  defaultOpaquePorts: p.PortRange[];
  skipInboundPorts: p.PortRange[];
  skipOutboundPorts: p.PortRange[];
  skipSubnets: string[];
  requireIdentityInboundPorts: p.PortRange[];
  resources: ProxyResources;
  uid: number;
  logLevel: string;
  logFormat: "plain" | "json";
  inboundConnectTimeout?: string;
  outboundConnectTimeout?: string;
  inboundDetectTimeout?: string;
  outboundDetectTimeout?: string;
  shutdownEndpoint: boolean;
  shutdownGracePeriod?: string;
  await: boolean;
  nativeSidecar: boolean;
  additionalEnv: p.EnvPair[];
}

export function defaultProxySettings(
  version: string,
  image = "localhost/weft/proxy",
): ProxySettings {
  return {
    image,
    version,
    imagePullPolicy: "IfNotPresent",
    inboundPort: PORT_INBOUND,
    outboundPort: PORT_OUTBOUND,
    adminPort: PORT_ADMIN,
    controlPort: PORT_CONTROL,
    defaultOpaquePorts: DEFAULT_OPAQUE_PORTS.map((n) => [n, n] as const),
    skipInboundPorts: [],
    skipOutboundPorts: [],
    skipSubnets: [],
    requireIdentityInboundPorts: [],
    resources: {},
    uid: PROXY_UID,
    logLevel: "warn,weft=info",
    logFormat: "plain",
    shutdownEndpoint: false,
    await: true,
    nativeSidecar: true,
    additionalEnv: [],
  };
}

type Apply = (s: ProxySettings, raw: string) => boolean;

/** Builds an override that parses a value and stores it, or reports it invalid. */
function set<K extends keyof ProxySettings>(
  key: K,
  parse: (v: string) => ProxySettings[K] | undefined,
): Apply {
  return (s, raw) => {
    const v = parse(raw);
    if (v === undefined) return false;
    s[key] = v;
    return true;
  };
}

function resource(key: keyof ProxyResources, parse: (v: string) => string | undefined): Apply {
  return (s, raw) => {
    const v = parse(raw);
    if (v === undefined) return false;
    s.resources = { ...s.resources, [key]: v };
    return true;
  };
}

interface Override {
  apply: Apply;
  expected: string;
}

const PORTS = "a comma-separated list of ports or ranges, e.g. 25,8000-8100";
const DURATION = "a duration such as 100ms, 10s or 1m30s";

/** Every `config.weft.io/<suffix>` override the injector honours. */
export const OVERRIDES: Readonly<Record<string, Override>> = {
  "proxy-image": {
    apply: set("image", p.parseImage),
    expected: "an image reference such as localhost/weft/proxy",
  },
  "proxy-version": {
    apply: set("version", p.parseVersion),
    expected: "an image tag such as 0.1.0",
  },
  "proxy-init-image": { apply: set("initImage", p.parseImage), expected: "an image reference" },
  "proxy-image-pull-policy": {
    apply: set("imagePullPolicy", p.parsePullPolicy),
    expected: "Always, IfNotPresent or Never",
  },
  "proxy-inbound-port": { apply: set("inboundPort", p.parsePort), expected: "a port 1-65535" },
  "proxy-outbound-port": { apply: set("outboundPort", p.parsePort), expected: "a port 1-65535" },
  "proxy-admin-port": { apply: set("adminPort", p.parsePort), expected: "a port 1-65535" },
  "proxy-control-port": { apply: set("controlPort", p.parsePort), expected: "a port 1-65535" },
  "opaque-ports": { apply: set("opaquePorts", p.parsePortRanges), expected: PORTS },
  "skip-inbound-ports": { apply: set("skipInboundPorts", p.parsePortRanges), expected: PORTS },
  "skip-outbound-ports": { apply: set("skipOutboundPorts", p.parsePortRanges), expected: PORTS },
  "skip-subnets": {
    apply: set("skipSubnets", p.parseSubnets),
    expected: "a comma-separated list of CIDRs, e.g. 10.0.0.0/8",
  },
  "proxy-require-identity-inbound-ports": {
    apply: set("requireIdentityInboundPorts", p.parsePortRanges),
    expected: PORTS,
  },
  "proxy-cpu-request": {
    apply: resource("cpuRequest", p.parseCpu),
    expected: "a CPU quantity such as 100m or 1",
  },
  "proxy-cpu-limit": {
    apply: resource("cpuLimit", p.parseCpu),
    expected: "a CPU quantity such as 100m or 1",
  },
  "proxy-memory-request": {
    apply: resource("memoryRequest", p.parseMemory),
    expected: "a memory quantity such as 64Mi",
  },
  "proxy-memory-limit": {
    apply: resource("memoryLimit", p.parseMemory),
    expected: "a memory quantity such as 250Mi",
  },
  "proxy-uid": { apply: set("uid", p.parseUid), expected: "a user id 1-2147483647" },
  "proxy-log-level": {
    apply: set("logLevel", p.parseLogLevel),
    expected: "a level or filter such as warn,weft=info",
  },
  "proxy-log-format": { apply: set("logFormat", p.parseLogFormat), expected: "plain or json" },
  "proxy-inbound-connect-timeout": {
    apply: set("inboundConnectTimeout", p.parseDuration),
    expected: DURATION,
  },
  "proxy-outbound-connect-timeout": {
    apply: set("outboundConnectTimeout", p.parseDuration),
    expected: DURATION,
  },
  "proxy-inbound-detect-timeout": {
    apply: set("inboundDetectTimeout", p.parseDuration),
    expected: DURATION,
  },
  "proxy-outbound-detect-timeout": {
    apply: set("outboundDetectTimeout", p.parseDuration),
    expected: DURATION,
  },
  "proxy-admin-shutdown": {
    apply: set("shutdownEndpoint", p.parseSwitch),
    expected: "enabled or disabled",
  },
  "proxy-shutdown-grace-period": {
    apply: set("shutdownGracePeriod", p.parseDuration),
    expected: DURATION,
  },
  "proxy-await": { apply: set("await", p.parseSwitch), expected: "enabled or disabled" },
  "proxy-enable-native-sidecar": {
    apply: set("nativeSidecar", p.parseSwitch),
    expected: "true or false",
  },
  "proxy-additional-env": {
    apply: set("additionalEnv", p.parseEnv),
    expected: 'NAME=value,NAME2=value or {"NAME":"value"}',
  },
};

/** The pod's annotations win; namespace `config.weft.io/*` values fill what the pod lacks. */
export function mergeConfigAnnotations(
  pod: Record<string, string> | undefined,
  ns: Record<string, string> | undefined,
): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const [k, v] of Object.entries(ns ?? {})) if (k.startsWith(CONFIG_PREFIX)) merged[k] = v;
  for (const [k, v] of Object.entries(pod ?? {})) if (k.startsWith(CONFIG_PREFIX)) merged[k] = v;
  return merged;
}

/**
 * Applies the overrides to a copy of the defaults. Unknown `config.weft.io/*` keys are ignored
 * (other tools may own some); every invalid value is reported.
 */
export function resolveSettings(
  defaults: ProxySettings,
  annotations: Record<string, string>,
): { settings: ProxySettings; errors: InvalidAnnotationError[] } {
  const settings: ProxySettings = { ...defaults, resources: { ...defaults.resources } };
  const errors: InvalidAnnotationError[] = [];
  for (const [key, raw] of Object.entries(annotations)) {
    const o = key.startsWith(CONFIG_PREFIX)
      ? OVERRIDES[key.slice(CONFIG_PREFIX.length)]
      : undefined;
    if (o && !o.apply(settings, raw)) errors.push(new InvalidAnnotationError(key, raw, o.expected));
  }
  return { settings, errors };
}

/** `repo:tag` unless the image already names a tag or digest. */
export function imageRef(image: string, version: string): string {
  const last = image.slice(image.lastIndexOf("/") + 1);
  return image.includes("@") || last.includes(":") ? image : `${image}:${version}`;
}
