/**
 * Outbound HTTP/1 through the route layer, on the proxy's own HTTP/1 engine: the destination's
 * profile picks the route (timeout, retries, classification, route metrics); dstOverrides split
 * traffic between backends; each backend balances its endpoints with P2C over peak-EWMA. The
 * engine moves the bytes and asks, per attempt, where to go and whether to try again.
 */
import { BalanceError } from "../balance/errors";
import type { InFlight, Slot } from "../balance/p2c";
import type { DiscoveredEndpoint } from "../discovery/state";
import { ProxyError, upstreamError } from "../errors";
import type { Attempt, Exchange, RequestRouter } from "../http1/exchange";
import type { Head } from "../http1/head";
import type { RouteMetrics } from "../metrics/metrics";
import { CONNECT_ATTEMPTS, outcomeOf, retryAllowed, RouteTimeoutError } from "./execute";
import {
  endpointMetrics,
  type Backend,
  type LogicalService,
  type LogicalServices,
  type OriginalDst,
  type ProxyHooks,
} from "./logical";
import type { ResponseOutcome, RouteScope } from "./metrics";
import type { CompiledRoute } from "./profile";

const CONNECT_ERRNOS = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET"]);

/** A failure to reach the endpoint at all: another endpoint may be tried, whatever the route says. */
export function isConnectFailure(err: Error, connected: boolean): boolean {
  if (!connected) return true;
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === "string" && CONNECT_ERRNOS.has(code);
}

/** The error a client is told when the route layer gives up. */
export function routeError(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err;
  if (err instanceof RouteTimeoutError)
    return new ProxyError("WEFT_ERR_RESPONSE_TIMEOUT", err.message, err);
  if (err instanceof BalanceError) {
    if (err.code === "WEFT_ERR_FAILFAST") return new ProxyError("WEFT_ERR_FAILFAST", err.message);
    if (err.code === "WEFT_ERR_QUEUE_FULL") return new ProxyError("WEFT_ERR_LOADSHED", err.message);
    return new ProxyError("WEFT_ERR_NO_ROUTE", err.message, err);
  }
  return upstreamError(err);
}

/** The request path without its query, as routes match it. */
export function pathOf(target: string): string {
  const q = target.indexOf("?");
  return q === -1 ? target : target.slice(0, q);
}

export class OutboundHttp1 {
  /** request_total/response_total by endpoint and authority, looked up once per endpoint. */
  private readonly endpointScopes = new WeakMap<DiscoveredEndpoint, Map<string, RouteMetrics>>();

  constructor(
    private readonly services: LogicalServices,
    private readonly proxy: ProxyHooks | undefined,
  ) {}

  /** The engine's router for a connection to `dst`; its requests mostly share one authority. */
  router(dst: OriginalDst): RequestRouter {
    let authority: string | undefined;
    let path = "";
    return (head) => {
      if (head.host !== authority) {
        authority = head.host;
        path = this.services.pathFor(authority || undefined, dst);
      }
      return this.start(head, dst, path);
    };
  }

  private async start(head: Head, dst: OriginalDst, path: string): Promise<Exchange> {
    const startedAt = performance.now();
    const authority = head.host;
    const svc = this.services.byPath(path, dst);
    const route = await svc.route(
      { method: head.method, path: pathOf(head.target) },
      this.services.profileTimeoutMs,
    );
    return new RoutedExchange(this, svc, route, startedAt, authority, dst);
  }

  /** request_total/response_total of `ep` (none: the original destination) for `authority`. */
  endpointScope(
    authority: string,
    dst: OriginalDst,
    ep: DiscoveredEndpoint | undefined,
  ): RouteMetrics | undefined {
    const proxy = this.proxy;
    if (proxy === undefined) return undefined;
    if (ep === undefined) return endpointMetrics(proxy, authority, dst, undefined);
    let byAuthority = this.endpointScopes.get(ep);
    if (byAuthority === undefined) this.endpointScopes.set(ep, (byAuthority = new Map()));
    let m = byAuthority.get(authority);
    if (m === undefined)
      byAuthority.set(authority, (m = endpointMetrics(proxy, authority, dst, ep)));
    return m;
  }
}

/** One request on its route: attempts, retries within the budget, and its metrics. */
class RoutedExchange implements Exchange {
  readonly timeoutMs: number | undefined;
  private readonly metrics: RouteScope;
  private backend: Backend | undefined;
  private slot: Slot<DiscoveredEndpoint> | undefined;
  private inflight: InFlight<DiscoveredEndpoint> | undefined;
  private retries = 0;
  private connectFailures = 0;
  private newAttempt = true;
  private done = false;

  constructor(
    private readonly outbound: OutboundHttp1,
    private readonly svc: LogicalService,
    private readonly route: CompiledRoute,
    private readonly startedAt: number,
    private readonly authority: string,
    private readonly dst: OriginalDst,
  ) {
    this.timeoutMs = route.timeoutMs;
    this.metrics = svc.scope(route.name);
    this.metrics.requested();
    svc.budget.deposit(startedAt);
  }

  async next(): Promise<Attempt | ProxyError> {
    if (this.newAttempt || this.backend === undefined) this.backend = this.svc.pickBackend();
    const balancer = this.backend.balancer;
    let slot: Slot<DiscoveredEndpoint>;
    try {
      slot = await balancer.acquire(this.startedAt);
    } catch (err) {
      return routeError(err);
    }
    if (this.done) return new ProxyError("WEFT_ERR_NO_ROUTE", "request already answered");
    if (this.newAttempt) this.metrics.attempted();
    this.newAttempt = false;
    this.slot = slot;
    this.inflight = balancer.begin(slot);
    const ep = slot.endpoint;
    return { endpoint: ep, key: `${ep.key}|${ep.identity ?? ""}` };
  }

  retryResponse(status: number, replayable: boolean): boolean {
    this.endAttempt();
    this.backend?.balancer.connected(this.slot as Slot<DiscoveredEndpoint>);
    const outcome = outcomeOf(this.route, { status });
    this.metrics.attemptDone(outcome);
    if (this.retry(outcome, replayable)) return true;
    this.done = true;
    const ms = performance.now() - this.startedAt;
    this.metrics.responded(outcome, ms);
    this.recordEndpoint(status, "", ms);
    return false;
  }

  retryError(err: Error, connected: boolean, replayable: boolean): boolean {
    this.endAttempt();
    if (isConnectFailure(err, connected) && this.slot !== undefined) {
      this.backend?.balancer.connectFailed(this.slot);
      if (++this.connectFailures < CONNECT_ATTEMPTS && replayable) return true;
    }
    const e = routeError(err);
    const outcome: ResponseOutcome = { status: e.status, failure: true, error: e.label };
    this.metrics.attemptDone(outcome);
    return this.retry(outcome, replayable);
  }

  failed(err: ProxyError | undefined): void {
    if (this.done) return;
    this.done = true;
    this.endAttempt();
    if (err === undefined) return;
    const ms = performance.now() - this.startedAt;
    this.metrics.responded({ status: err.status, failure: true, error: err.label }, ms);
    this.recordEndpoint(err.status, err.label, ms);
  }

  private retry(outcome: ResponseOutcome, replayable: boolean): boolean {
    const now = performance.now();
    const ctx = { route: this.route, budget: this.svc.budget, metrics: this.metrics };
    if (!retryAllowed(ctx, outcome, this.retries, replayable, now)) return false;
    this.retries++;
    this.connectFailures = 0;
    this.newAttempt = true;
    return true;
  }

  private endAttempt(): void {
    this.inflight?.end();
    this.inflight = undefined;
  }

  /** request_total/response_total by the endpoint that answered (none: the original destination). */
  private recordEndpoint(status: number, error: string, ms: number): void {
    const m = this.outbound.endpointScope(this.authority, this.dst, this.slot?.endpoint);
    if (m === undefined) return;
    m.request();
    m.response(status, -1, error, ms);
  }
}
