/**
 * The logical layer shared by outbound HTTP/1 and HTTP/2: one LogicalService per discovery path
 * holds the destination's profile (routes, retry budget, dstOverrides), its route metrics and
 * its concrete backends, each a resolution feeding a P2C balancer. Idle services are dropped.
 */
import { P2cBalancer, type BalancerOptions } from "../balance/p2c";
import { NoEndpointsError } from "../balance/errors";
import { WeightedSplit } from "../balance/split";
import type { Discovery, ResolutionHandle } from "../discovery/client";
import { discoveryPath } from "../discovery/resolver";
import type { DiscoveredEndpoint, EndpointState } from "../discovery/state";
import type { ProxyMetrics, RouteMetrics } from "../metrics/metrics";
import { outboundTlsLabels, type TlsSeam } from "../tls/seam";
import { RetryBudget } from "./budget";
import type { RouteMetricFamilies, RouteScope } from "./metrics";
import {
  compileProfile,
  DEFAULT_BUDGET,
  DEFAULT_ROUTE,
  matchRoute,
  type CompiledProfile,
  type CompiledRoute,
  type RequestHead,
} from "./profile";

export interface OriginalDst {
  address: string;
  port: number;
}

/** The discovery path of a request: the authority when it is a cluster name, else the original destination. */
export function discoveryPathFor(
  authority: string | undefined,
  dst: OriginalDst,
  clusterDomain: string,
): string {
  const target = { direction: "outbound" as const, address: dst.address, port: dst.port };
  return discoveryPath(authority ? { ...target, authority } : target, clusterDomain);
}

/** The proxy's TLS seam and metrics, for the route layers' request_total/response_total. */
export interface ProxyHooks {
  tls: TlsSeam;
  metrics: ProxyMetrics;
}

/**
 * request_total/response_total of one request, by the endpoint that answered (the original
 * destination when none did) with its identity and dst_* labels.
 */
export function endpointMetrics(
  proxy: ProxyHooks,
  authority: string,
  dst: OriginalDst,
  ep: DiscoveredEndpoint | undefined,
): RouteMetrics {
  const target = ep?.key ?? `${dst.address}:${dst.port}`;
  const tls = outboundTlsLabels(proxy.tls, ep?.identity);
  return proxy.metrics.http("outbound", target, tls, ep?.labels).route(authority);
}

/** The endpoint used when discovery says the name is not a cluster service. */
export function originalDstEndpoint(dst: OriginalDst): DiscoveredEndpoint {
  return {
    key: `${dst.address}:${dst.port}`,
    address: dst.address,
    port: dst.port,
    weight: 10000,
    labels: {},
    identity: undefined,
    protocolHint: undefined,
    opaqueTransportPort: undefined,
  };
}

/** The destination's weight of an endpoint (10000 by default). */
export function endpointWeight(e: DiscoveredEndpoint): number {
  return e.weight;
}

/** One concrete backend: a resolution and the balancer fed from it. */
export class Backend {
  readonly balancer: P2cBalancer<DiscoveredEndpoint>;

  constructor(
    readonly handle: ResolutionHandle,
    options: BalancerOptions<DiscoveredEndpoint>,
    private readonly fallback: DiscoveredEndpoint | undefined,
  ) {
    this.balancer = new P2cBalancer(handle.resolution.path, { ...options, weight: endpointWeight });
    this.sync(handle.resolution.endpoints);
    handle.resolution.on("endpoints", (s: EndpointState) => this.sync(s));
  }

  /** `no_endpoints{exists:false}`: the name is not a cluster service; use the original destination. */
  private sync(s: EndpointState): void {
    if (s.kind === "endpoints") this.balancer.update(s.endpoints);
    else if (s.kind === "none" && !s.exists && this.fallback)
      this.balancer.update([[this.fallback.key, this.fallback]]);
    else this.balancer.update([]);
  }

  close(): void {
    this.balancer.close(new NoEndpointsError(this.handle.resolution.path));
    this.handle.release();
  }
}

/** A logical destination: its profile, retry budget, route metrics and backends. */
export class LogicalService {
  profile: CompiledProfile = {
    fqn: "",
    routes: [],
    budget: DEFAULT_BUDGET,
    dstOverrides: [],
    opaque: false,
  };
  budget: RetryBudget;
  split: WeightedSplit<Backend>;
  private readonly overrides = new Map<string, Backend>();
  private readonly scopes = new Map<string, RouteScope>();
  lastUsed = performance.now();

  constructor(
    readonly authority: string,
    readonly primary: Backend,
    private readonly makeBackend: (authority: string) => Backend,
    private readonly metrics: RouteMetricFamilies,
  ) {
    this.budget = new RetryBudget(DEFAULT_BUDGET, performance.now());
    this.split = new WeightedSplit([{ value: primary, weight: 1 }]);
    const r = primary.handle.resolution;
    if (r.profile) this.setProfile(compileProfile(r.profile));
    r.on("profile", () => r.profile && this.setProfile(compileProfile(r.profile)));
  }

  /** Waits (bounded) for the first profile of a new destination, then the first route matching `head`. */
  async route(head: RequestHead, profileTimeoutMs: number): Promise<CompiledRoute> {
    const r = this.primary.handle.resolution;
    if (!r.profile) await r.waitForProfile(profileTimeoutMs);
    return matchRoute(this.profile.routes, head) ?? DEFAULT_ROUTE;
  }

  /** The backend of one attempt, by dstOverrides weight. */
  pickBackend(): Backend {
    return this.split.pick() ?? this.primary;
  }

  /** Route metrics of `route`, with dst_* labels from the destination's set-level labels once known. */
  scope(route: string): RouteScope {
    const labels = this.setLabels();
    const key = `${route}|${labels.namespace ?? ""}|${labels.service ?? ""}`;
    let s = this.scopes.get(key);
    if (!s) {
      s = this.metrics.scope(
        { direction: "outbound", dst: this.authority, rt_route: route },
        labels,
      );
      this.scopes.set(key, s);
    }
    return s;
  }

  private setLabels(): Record<string, string> {
    const state = this.primary.handle.resolution.endpoints;
    if (state.kind !== "endpoints") return {};
    const first = state.endpoints.values().next().value;
    return first
      ? { namespace: first.labels.namespace ?? "", service: first.labels.service ?? "" }
      : {};
  }

  close(): void {
    this.primary.close();
    for (const b of this.overrides.values()) b.close();
  }

  private setProfile(p: CompiledProfile): void {
    const b = p.budget;
    const old = this.profile.budget;
    if (b.ratio !== old.ratio || b.minPerSecond !== old.minPerSecond || b.ttlMs !== old.ttlMs) {
      this.budget = new RetryBudget(b, performance.now());
    }
    this.profile = p;
    this.split = new WeightedSplit(this.backendsFor(p));
  }

  private backendsFor(p: CompiledProfile): { value: Backend; weight: number }[] {
    if (p.dstOverrides.length === 0) return [{ value: this.primary, weight: 1 }];
    const keep = new Set(p.dstOverrides.map((d) => d.authority));
    for (const [a, b] of this.overrides) {
      if (keep.has(a)) continue;
      b.close();
      this.overrides.delete(a);
    }
    return p.dstOverrides.map((d) => ({ value: this.backend(d.authority), weight: d.weight }));
  }

  private backend(authority: string): Backend {
    if (authority === this.authority) return this.primary;
    let b = this.overrides.get(authority);
    if (!b) this.overrides.set(authority, (b = this.makeBackend(authority)));
    return b;
  }
}

export interface LogicalServicesOptions {
  discovery: Discovery;
  metrics: RouteMetricFamilies;
  balancer?: BalancerOptions<DiscoveredEndpoint>;
  /** Cluster DNS suffix: authorities under `.svc.<domain>` are discovered by name. */
  clusterDomain?: string;
  /** How long a request to a new destination waits for its profile before using the default route. */
  profileTimeoutMs?: number;
  /** Idle logical services are dropped after this long (5 s outbound). */
  idleMs?: number;
}

/** The logical services of one proxy, by discovery path; HTTP/1 and HTTP/2 share them. */
export class LogicalServices {
  private readonly services = new Map<string, LogicalService>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(readonly options: LogicalServicesOptions) {
    const idle = options.idleMs ?? 5000;
    this.sweeper = setInterval(() => this.sweep(idle), Math.max(100, idle / 2));
    this.sweeper.unref();
  }

  get profileTimeoutMs(): number {
    return this.options.profileTimeoutMs ?? 1000;
  }

  pathFor(authority: string | undefined, dst: OriginalDst): string {
    return discoveryPathFor(authority, dst, this.options.clusterDomain ?? "cluster.local");
  }

  /** The service a request with this authority, to this original destination, belongs to. */
  get(authority: string | undefined, dst: OriginalDst): LogicalService {
    return this.byPath(this.pathFor(authority, dst), dst);
  }

  /** The service of a discovery path (from `pathFor`) to this original destination. */
  byPath(path: string, dst: OriginalDst): LogicalService {
    let svc = this.services.get(path);
    if (!svc) {
      const make = (p: string, fb?: DiscoveredEndpoint): Backend =>
        new Backend(this.options.discovery.acquire(p), this.options.balancer ?? {}, fb);
      svc = new LogicalService(
        path,
        make(path, originalDstEndpoint(dst)),
        (a) => make(a),
        this.options.metrics,
      );
      this.services.set(path, svc);
    }
    svc.lastUsed = performance.now();
    return svc;
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const s of this.services.values()) s.close();
    this.services.clear();
  }

  private sweep(idleMs: number): void {
    const now = performance.now();
    for (const [k, s] of this.services) {
      if (now - s.lastUsed > idleMs) {
        s.close();
        this.services.delete(k);
      }
    }
  }
}
