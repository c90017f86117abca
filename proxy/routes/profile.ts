/**
 * A DestinationProfile compiled for the request path: route predicates, response classifiers,
 * timeouts in milliseconds and the retry budget parameters.
 */
import type {
  DestinationProfile,
  RequestMatch,
  ResponseMatch,
  Route,
} from "../../api/gen/destination";
import type { Duration } from "../../api/gen/google/protobuf/duration";
import { HttpMethod_Registered, type HttpMethod } from "../../api/gen/http_types";

export interface RequestHead {
  method: string;
  path: string;
}

export interface ResponseHead {
  status: number;
  /** From headers or trailers; undefined when not gRPC. */
  grpcStatus?: number;
}

export interface CompiledRoute {
  name: string;
  labels: Record<string, string>;
  matches(req: RequestHead): boolean;
  /** True when the response counts as a failure. */
  isFailure(res: ResponseHead): boolean;
  isRetryable: boolean;
  timeoutMs: number | undefined;
}

export interface BudgetParams {
  ratio: number;
  minPerSecond: number;
  ttlMs: number;
}

export interface CompiledProfile {
  fqn: string;
  routes: CompiledRoute[];
  budget: BudgetParams;
  dstOverrides: { authority: string; weight: number }[];
  opaque: boolean;
}

export const DEFAULT_BUDGET: BudgetParams = { ratio: 0.2, minPerSecond: 10, ttlMs: 10_000 };

export function durationMs(d: Duration | undefined): number | undefined {
  if (!d) return undefined;
  const ms = Number(d.seconds) * 1000 + d.nanos / 1e6;
  return ms > 0 ? ms : undefined;
}

export function methodName(m: HttpMethod): string {
  if (m.type?.$case === "unregistered") return m.type.unregistered.toUpperCase();
  if (m.type?.$case === "registered") return HttpMethod_Registered[m.type.registered] ?? "";
  return "";
}

/** Path regexes are anchored at both ends (as in linkerd2-proxy); one that does not compile never matches. */
function pathMatcher(regex: string): (req: RequestHead) => boolean {
  try {
    const re = new RegExp(`^(?:${regex})$`);
    return (req) => re.test(req.path);
  } catch {
    return () => false;
  }
}

export function compileRequestMatch(m: RequestMatch | undefined): (req: RequestHead) => boolean {
  const match = m?.match;
  switch (match?.$case) {
    case "all": {
      const parts = match.all.matches.map(compileRequestMatch);
      return (req) => parts.every((p) => p(req));
    }
    case "any": {
      const parts = match.any.matches.map(compileRequestMatch);
      return (req) => parts.some((p) => p(req));
    }
    case "not": {
      const inner = compileRequestMatch(match.not);
      return (req) => !inner(req);
    }
    case "path":
      return pathMatcher(match.path.regex);
    case "method": {
      const name = methodName(match.method);
      return (req) => req.method.toUpperCase() === name;
    }
    default:
      return () => false;
  }
}

export function compileResponseMatch(m: ResponseMatch | undefined): (res: ResponseHead) => boolean {
  const match = m?.match;
  switch (match?.$case) {
    case "all": {
      const parts = match.all.matches.map(compileResponseMatch);
      return (res) => parts.every((p) => p(res));
    }
    case "any": {
      const parts = match.any.matches.map(compileResponseMatch);
      return (res) => parts.some((p) => p(res));
    }
    case "not": {
      const inner = compileResponseMatch(match.not);
      return (res) => !inner(res);
    }
    case "status": {
      const { min, max } = match.status;
      return (res) => res.status >= min && res.status <= max;
    }
    default:
      return () => false;
  }
}

/** The default classification: a 5xx, or a non-zero grpc-status, is a failure. */
export function defaultIsFailure(res: ResponseHead): boolean {
  return res.status >= 500 || (res.grpcStatus !== undefined && res.grpcStatus !== 0);
}

/** Response classes in order; the first that matches decides; none matching = the default. */
export function compileClassifier(route: Route): (res: ResponseHead) => boolean {
  const classes = route.responseClasses.map((rc) => ({
    match: compileResponseMatch(rc.condition),
    failure: rc.isFailure,
  }));
  return (res) => {
    for (const c of classes) if (c.match(res)) return c.failure;
    return defaultIsFailure(res);
  };
}

export function compileRoute(route: Route): CompiledRoute {
  return {
    name: route.metricsLabels.route ?? "",
    labels: route.metricsLabels,
    matches: compileRequestMatch(route.condition),
    isFailure: compileClassifier(route),
    isRetryable: route.isRetryable,
    timeoutMs: durationMs(route.timeout),
  };
}

export function compileProfile(p: DestinationProfile): CompiledProfile {
  const b = p.retryBudget;
  const ttlMs = durationMs(b?.ttl);
  return {
    fqn: p.fullyQualifiedName,
    routes: p.routes.map(compileRoute),
    budget:
      b && ttlMs
        ? { ratio: b.retryRatio, minPerSecond: b.minRetriesPerSecond, ttlMs }
        : DEFAULT_BUDGET,
    dstOverrides: p.dstOverrides.map((d) => ({ authority: d.authority, weight: d.weight })),
    opaque: p.opaqueProtocol,
  };
}

/** The first route whose condition matches; undefined = the default route. */
export function matchRoute(
  routes: readonly CompiledRoute[],
  req: RequestHead,
): CompiledRoute | undefined {
  for (const r of routes) if (r.matches(req)) return r;
  return undefined;
}

/** The route used when none matches: default classification, no retries, no timeout. */
export const DEFAULT_ROUTE: CompiledRoute = {
  name: "",
  labels: {},
  matches: () => true,
  isFailure: defaultIsFailure,
  isRetryable: false,
  timeoutMs: undefined,
};
