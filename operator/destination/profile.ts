/** Pure translation of ServiceProfiles (and their absence) into `DestinationProfile` messages. */
import type {
  DestinationProfile,
  RequestMatch,
  ResponseMatch,
  RetryBudget,
  Route,
  WeightedAddr,
  WeightedDst,
} from "../../api/gen/destination";
import type { Duration } from "../../api/gen/google/protobuf/duration";
import { HttpMethod_Registered, type HttpMethod } from "../../api/gen/http_types";
import {
  parseDurationMs,
  parseQuantity,
  type RequestMatchSpec,
  type ResponseMatchSpec,
  type RouteSpec,
  type ServiceProfileObject,
  type ServiceProfileSpec,
} from "../profiles/spec";
import { DEFAULT_OPAQUE_PORTS, type ServiceModel } from "./model";

export const DEFAULT_RETRY_BUDGET: RetryBudget = {
  retryRatio: 0.2,
  minRetriesPerSecond: 10,
  ttl: { seconds: 10n, nanos: 0 },
};

export function durationFromMs(ms: number): Duration {
  const whole = Math.floor(ms / 1000);
  return { seconds: BigInt(whole), nanos: Math.round((ms - whole * 1000) * 1e6) };
}

function durationFromText(text: string | undefined): Duration | undefined {
  const ms = text === undefined ? undefined : parseDurationMs(text);
  return ms === undefined ? undefined : durationFromMs(ms);
}

export function httpMethod(name: string): HttpMethod {
  const upper = name.toUpperCase();
  const registered = (HttpMethod_Registered as unknown as Record<string, number>)[upper];
  if (registered !== undefined && registered >= 0) {
    return { type: { $case: "registered", registered: registered as HttpMethod_Registered } };
  }
  return { type: { $case: "unregistered", unregistered: upper } };
}

/** Several fields set in one condition are ANDed (as in Linkerd). */
export function requestMatch(spec: RequestMatchSpec): RequestMatch {
  const parts: RequestMatch[] = [];
  if (spec.all)
    parts.push({ match: { $case: "all", all: { matches: spec.all.map(requestMatch) } } });
  if (spec.any)
    parts.push({ match: { $case: "any", any: { matches: spec.any.map(requestMatch) } } });
  if (spec.not) parts.push({ match: { $case: "not", not: requestMatch(spec.not) } });
  if (spec.pathRegex !== undefined)
    parts.push({ match: { $case: "path", path: { regex: spec.pathRegex } } });
  if (spec.method !== undefined)
    parts.push({ match: { $case: "method", method: httpMethod(spec.method) } });
  return parts.length === 1 ? parts[0] : { match: { $case: "all", all: { matches: parts } } };
}

export function responseMatch(spec: ResponseMatchSpec): ResponseMatch {
  const parts: ResponseMatch[] = [];
  if (spec.all)
    parts.push({ match: { $case: "all", all: { matches: spec.all.map(responseMatch) } } });
  if (spec.any)
    parts.push({ match: { $case: "any", any: { matches: spec.any.map(responseMatch) } } });
  if (spec.not) parts.push({ match: { $case: "not", not: responseMatch(spec.not) } });
  if (spec.status) {
    const min = spec.status.min ?? 100;
    parts.push({ match: { $case: "status", status: { min, max: spec.status.max ?? 599 } } });
  }
  return parts.length === 1 ? parts[0] : { match: { $case: "all", all: { matches: parts } } };
}

export function route(spec: RouteSpec): Route {
  return {
    condition: requestMatch(spec.condition ?? {}),
    responseClasses: (spec.responseClasses ?? []).map((rc) => ({
      condition: responseMatch(rc.condition ?? {}),
      isFailure: rc.isFailure === true,
    })),
    metricsLabels: { route: spec.name },
    isRetryable: spec.isRetryable === true,
    timeout: durationFromText(spec.timeout),
  };
}

export function retryBudget(spec: ServiceProfileSpec["retryBudget"]): RetryBudget {
  const ttl = spec ? durationFromText(spec.ttl) : undefined;
  if (!spec || ttl === undefined) return DEFAULT_RETRY_BUDGET;
  return { retryRatio: spec.retryRatio, minRetriesPerSecond: spec.minRetriesPerSecond, ttl };
}

/** dstOverrides weights are quantities where `1` is 100 %: the wire carries them ×10000. */
export function dstOverrides(spec: ServiceProfileSpec["dstOverrides"]): WeightedDst[] {
  const out: WeightedDst[] = [];
  for (const d of spec ?? []) {
    const q = parseQuantity(d.weight);
    if (q === undefined || d.authority === "") continue;
    out.push({ authority: d.authority, weight: Math.round(q * 10000), backendRef: undefined });
  }
  return out;
}

export interface ProfileInput {
  fqn: string;
  port: number;
  service: ServiceModel | undefined;
  /** The ServiceProfile that applies (client namespace first, then the service's), if any. */
  profile: ServiceProfileObject | undefined;
  /** For pod-IP lookups: the pod, sent as `endpoint`. */
  endpoint: WeightedAddr | undefined;
  /** For pod-IP lookups: the pod's opaque ports. */
  endpointOpaquePorts?: number[];
}

function serviceOpaque(svc: ServiceModel, port: number): boolean {
  const ports = svc.opaquePorts ?? DEFAULT_OPAQUE_PORTS;
  const target = svc.ports.find((p) => p.port === port)?.targetPort;
  return ports.includes(port) || (typeof target === "number" && ports.includes(target));
}

function isOpaque(input: ProfileInput): boolean {
  if (input.profile?.spec?.opaquePorts?.includes(input.port)) return true;
  if (input.endpoint)
    return (input.endpointOpaquePorts ?? DEFAULT_OPAQUE_PORTS).includes(input.port);
  return input.service ? serviceOpaque(input.service, input.port) : false;
}

function serviceRef(svc: ServiceModel | undefined, port: number): DestinationProfile["parentRef"] {
  if (!svc) return undefined;
  return {
    kind: {
      $case: "resource",
      resource: {
        group: "core",
        kind: "Service",
        name: svc.name,
        namespace: svc.namespace,
        section: "",
        port,
      },
    },
  };
}

function profileRef(sp: ServiceProfileObject | undefined): DestinationProfile["profileRef"] {
  if (!sp?.metadata) return undefined;
  const { name = "", namespace = "" } = sp.metadata;
  return {
    kind: {
      $case: "resource",
      resource: { group: "weft.io", kind: "ServiceProfile", name, namespace, section: "", port: 0 },
    },
  };
}

/** The DestinationProfile for one lookup; the default (no routes, default budget) without a profile. */
export function destinationProfile(input: ProfileInput): DestinationProfile {
  const spec = input.profile?.spec ?? {};
  return {
    routes: (spec.routes ?? []).map(route),
    retryBudget: retryBudget(spec.retryBudget),
    dstOverrides: dstOverrides(spec.dstOverrides),
    opaqueProtocol: isOpaque(input),
    fullyQualifiedName: input.service ? input.fqn : "",
    endpoint: input.endpoint,
    parentRef: serviceRef(input.service, input.port),
    profileRef: profileRef(input.profile),
  };
}

/** A ServiceProfile in the client's namespace beats one in the service's namespace. */
export function chooseProfile(
  byNamespace: (ns: string) => ServiceProfileObject | undefined,
  clientNs: string,
  serviceNs: string,
): ServiceProfileObject | undefined {
  return (clientNs ? byNamespace(clientNs) : undefined) ?? byNamespace(serviceNs);
}
