/**
 * Outbound HTTP through discovery, routes and balancing: the destination's profile picks the
 * route (timeout, retries, classification, metrics); dstOverrides split traffic between
 * backends; each backend balances its endpoints with P2C over peak-EWMA and keeps a keep-alive
 * pool (an http.Agent) per endpoint.
 */
import * as http from "node:http";
import * as net from "node:net";
import type { Readable } from "node:stream";
import type { ProxyMetrics } from "../metrics/metrics";
import { errnoOf } from "../errors";
import { tunnel } from "../tcp/pipe";
import { outboundTlsLabels, type TlsSeam } from "../tls/seam";
import { P2cBalancer, type BalancerOptions, type Slot } from "../balance/p2c";
import { NoEndpointsError } from "../balance/errors";
import { WeightedSplit } from "../balance/split";
import type { Discovery, ResolutionHandle } from "../discovery/client";
import type { DiscoveredEndpoint, EndpointState } from "../discovery/state";
import { captureBody, type CapturedBody } from "./body";
import { RetryBudget } from "./budget";
import {
  routeRequest,
  type AttemptResponse,
  type ProxyErrorResponse,
  type Routed,
} from "./execute";
import type { RouteMetricFamilies, RouteScope } from "./metrics";
import {
  compileProfile,
  DEFAULT_BUDGET,
  DEFAULT_ROUTE,
  matchRoute,
  type CompiledProfile,
} from "./profile";

const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
];
/** Connect failures are retried on another endpoint within one attempt, at most this often. */
const CONNECT_ATTEMPTS = 3;

export interface HttpAttempt extends AttemptResponse {
  incoming: http.IncomingMessage;
  endpoint: DiscoveredEndpoint;
}

/** One concrete backend: a resolution and the balancer fed from it. */
class Backend {
  readonly balancer: P2cBalancer<DiscoveredEndpoint>;
  private state: EndpointState;

  constructor(
    readonly handle: ResolutionHandle,
    options: BalancerOptions,
    private readonly fallback: DiscoveredEndpoint | undefined,
  ) {
    this.balancer = new P2cBalancer(handle.resolution.path, options);
    this.state = handle.resolution.endpoints;
    this.sync(this.state);
    handle.resolution.on("endpoints", (s: EndpointState) => this.sync(s));
  }

  /** `no_endpoints{exists:false}`: the name is not a cluster service; use the original destination. */
  private sync(s: EndpointState): void {
    this.state = s;
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
class LogicalService {
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

export interface OutboundHttpOptions {
  discovery: Discovery;
  metrics: RouteMetricFamilies;
  balancer?: BalancerOptions;
  /** Cluster DNS suffix: authorities under `.svc.<domain>` are discovered by name. */
  clusterDomain?: string;
  /** How long a request to a new destination waits for its profile before using the default route. */
  profileTimeoutMs?: number;
  /** Idle logical services are dropped after this long (5 s outbound). */
  idleMs?: number;
  /**
   * The proxy's TLS seam and metrics: meshed endpoints are reached over mTLS, and each request
   * counts in request_total/response_total by endpoint with its tls/server_id labels.
   */
  proxy?: { tls: TlsSeam; metrics: ProxyMetrics };
}

/** Keep-alive connections to one endpoint, made by `connect` (e.g. mTLS through the seam). */
class EndpointAgent extends http.Agent {
  constructor(private readonly connect: () => net.Socket) {
    super({ keepAlive: true, timeout: 3000 });
  }

  override createConnection(): net.Socket {
    return this.connect();
  }
}

export interface OriginalDst {
  address: string;
  port: number;
}

function hostPort(authority: string, defaultPort: number): string {
  return /:\d+$/.test(authority) ? authority : `${authority}:${defaultPort}`;
}

/** The request head as received, for an upgrade relayed byte for byte after it. */
export function upgradeHead(req: http.IncomingMessage): string {
  let out = `${req.method ?? "GET"} ${req.url ?? "/"} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) out += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return `${out}\r\n`;
}

export function forwardHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = { ...headers };
  for (const h of HOP_BY_HOP) delete out[h];
  return out;
}

function grpcStatusOf(res: http.IncomingMessage): number | undefined {
  const v = res.headers["grpc-status"];
  return typeof v === "string" ? Number(v) : undefined;
}

function isConnectError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return (
    code === "ECONNREFUSED" ||
    code === "EHOSTUNREACH" ||
    code === "ENETUNREACH" ||
    code === "ECONNRESET"
  );
}

export class OutboundHttp {
  private readonly services = new Map<string, LogicalService>();
  private readonly agents = new Map<string, http.Agent>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: OutboundHttpOptions) {
    const idle = options.idleMs ?? 5000;
    this.sweeper = setInterval(() => this.sweep(idle), Math.max(100, idle / 2));
    this.sweeper.unref();
  }

  /** The discovery path of a request: the authority when it is a cluster name, else the original destination. */
  pathFor(authority: string | undefined, dst: OriginalDst): string {
    const domain = this.options.clusterDomain ?? "cluster.local";
    const name = authority ? hostPort(authority.toLowerCase(), dst.port) : "";
    const host = name.replace(/:\d+$/, "").replace(/\.$/, "");
    if (host.endsWith(`.svc.${domain}`)) return name.replace(/\.:/, ":");
    return dst.address.includes(":")
      ? `[${dst.address}]:${dst.port}`
      : `${dst.address}:${dst.port}`;
  }

  /** Serves one request to `dst` (the connection's original destination). */
  async handle(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    dst: OriginalDst,
  ): Promise<void> {
    const svc = this.service(this.pathFor(req.headers.host, dst), dst);
    const startedAt = (svc.lastUsed = performance.now());
    if (!svc.primary.handle.resolution.profile) {
      await svc.primary.handle.resolution.waitForProfile(this.options.profileTimeoutMs ?? 1000);
    }
    const head = { method: req.method ?? "GET", path: (req.url ?? "/").split("?")[0] };
    const route = matchRoute(svc.profile.routes, head) ?? DEFAULT_ROUTE;
    const body = await captureBody(req).catch(() => undefined);
    if (!body) return void res.destroy();
    const routed = await routeRequest<HttpAttempt>({
      route,
      budget: svc.budget,
      metrics: svc.scope(route.name),
      replayable: body.replayable,
      send: (signal) => this.attempt(svc, req, body, signal),
    });
    this.record(req.headers.host ?? "", dst, routed, startedAt);
    if (routed.kind === "error") return this.writeError(res, routed.error);
    const incoming = routed.response.incoming;
    res.writeHead(incoming.statusCode ?? 502, forwardHeaders(incoming.headers));
    incoming.pipe(res);
  }

  /** An upgrade (e.g. WebSocket): a balanced endpoint gets the head as received, then bytes both ways. */
  async upgrade(
    req: http.IncomingMessage,
    socket: net.Socket,
    head: Buffer,
    dst: OriginalDst,
  ): Promise<void> {
    const svc = this.service(this.pathFor(req.headers.host, dst), dst);
    svc.lastUsed = performance.now();
    const backend = svc.split.pick() ?? svc.primary;
    const slot = await backend.balancer.acquire();
    const inflight = backend.balancer.begin(slot);
    const up = this.connectTo(slot.endpoint);
    up.once("close", inflight.end);
    up.write(upgradeHead(req), "latin1");
    if (head.length > 0) up.write(head);
    tunnel(socket, up);
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const s of this.services.values()) s.close();
    this.services.clear();
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }

  /** request_total/response_total (status at the response head), by endpoint and its identity. */
  private record(
    authority: string,
    dst: OriginalDst,
    routed: Routed<HttpAttempt>,
    startedAt: number,
  ): void {
    const proxy = this.options.proxy;
    if (proxy === undefined) return;
    const ep = routed.kind === "response" ? routed.response.endpoint : undefined;
    const target = ep?.key ?? `${dst.address}:${dst.port}`;
    const tls = outboundTlsLabels(proxy.tls, ep?.identity);
    const route = proxy.metrics.http("outbound", target, tls, ep?.labels).route(authority);
    route.request();
    const ms = performance.now() - startedAt;
    if (routed.kind === "error") route.response(routed.error.status, -1, routed.error.error, ms);
    else route.response(routed.response.status, routed.response.grpcStatus ?? -1, "", ms);
  }

  private writeError(res: http.ServerResponse, e: ProxyErrorResponse): void {
    if (res.headersSent) return void res.destroy();
    res.writeHead(e.status, { "l5d-proxy-error": e.message, "content-length": 0 }).end();
  }

  private service(path: string, dst: OriginalDst): LogicalService {
    let svc = this.services.get(path);
    if (!svc) {
      const fallback = {
        key: `${dst.address}:${dst.port}`,
        address: dst.address,
        port: dst.port,
        weight: 10000,
        labels: {},
        identity: undefined,
        protocolHint: undefined,
        opaqueTransportPort: undefined,
      };
      const make = (p: string, fb?: DiscoveredEndpoint): Backend =>
        new Backend(this.options.discovery.acquire(p), this.options.balancer ?? {}, fb);
      svc = new LogicalService(path, make(path, fallback), (a) => make(a), this.options.metrics);
      this.services.set(path, svc);
    }
    return svc;
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

  private agent(ep: DiscoveredEndpoint): http.Agent {
    let a = this.agents.get(ep.key);
    if (!a) this.agents.set(ep.key, (a = this.newAgent(ep)));
    return a;
  }

  /** A meshed endpoint (one with an identity) is reached over mTLS through the proxy's seam. */
  private newAgent(ep: DiscoveredEndpoint): http.Agent {
    if (this.options.proxy === undefined) return new http.Agent({ keepAlive: true, timeout: 3000 });
    return new EndpointAgent(() => this.connectTo(ep));
  }

  /**
   * A connection to `ep`: mTLS through the seam when it has an identity, else plaintext; in the
   * proxy, counted in the tcp_* families like the fast path's upstream connections.
   */
  private connectTo(ep: DiscoveredEndpoint): net.Socket {
    const raw = net.connect({ host: ep.address, port: ep.port });
    const proxy = this.options.proxy;
    if (proxy === undefined) return raw;
    const identity = proxy.tls.outbound.peerIdentity(ep);
    const socket =
      identity === undefined ? raw : proxy.tls.outbound.originate(raw, identity, ["http/1.1"]);
    const labels = outboundTlsLabels(proxy.tls, identity);
    const tcp = proxy.metrics.tcp("outbound", "dst", ep.key, labels, socket);
    let failure: Error | undefined;
    socket.on("error", (e) => (failure = e));
    socket.on("close", () => tcp.closed(socket.bytesRead, socket.bytesWritten, errnoOf(failure)));
    return socket;
  }

  private async attempt(
    svc: LogicalService,
    req: http.IncomingMessage,
    body: CapturedBody,
    signal: AbortSignal,
  ): Promise<HttpAttempt> {
    const backend = svc.split.pick() ?? svc.primary;
    for (let i = 1; ; i++) {
      const slot = await backend.balancer.acquire();
      try {
        return await this.send(backend, slot, req, body, signal);
      } catch (err) {
        if (!isConnectError(err) || i >= CONNECT_ATTEMPTS || signal.aborted) throw err;
        backend.balancer.connectFailed(slot);
      }
    }
  }

  private send(
    backend: Backend,
    slot: Slot<DiscoveredEndpoint>,
    req: http.IncomingMessage,
    body: CapturedBody,
    signal: AbortSignal,
  ): Promise<HttpAttempt> {
    const ep = slot.endpoint;
    const inflight = backend.balancer.begin(slot);
    return new Promise<HttpAttempt>((resolve, reject) => {
      const out = http.request(
        {
          host: ep.address,
          port: ep.port,
          method: req.method,
          path: req.url,
          headers: forwardHeaders(req.headers),
          agent: this.agent(ep),
          signal,
        },
        (incoming) => {
          backend.balancer.connected(slot);
          incoming.once("end", inflight.end);
          incoming.once("close", inflight.end);
          resolve({
            incoming,
            endpoint: ep,
            status: incoming.statusCode ?? 502,
            grpcStatus: grpcStatusOf(incoming),
            discard: () => incoming.resume(),
          });
        },
      );
      out.once("error", (err) => {
        inflight.end();
        reject(err);
      });
      if (body.replayable) out.end(body.buffer);
      else (body.stream as Readable).pipe(out);
    });
  }
}
