/**
 * Route metrics with Linkerd's names and labels: route_request_total, route_response_total,
 * route_response_latency_ms (effective, after retries), route_actual_request_total and
 * route_actual_response_total (every attempt), route_retryable_total{skipped="no_budget"}.
 * Labels: direction, dst, rt_route, plus dst_* from the destination's metric labels.
 */
import { Counter, Histogram, type Registry } from "prom-client";

export const LATENCY_BUCKETS_MS = [
  1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000,
  20000, 30000, 40000, 50000,
];

const BASE = ["direction", "dst", "rt_route"];
/** The destination's set-level labels (namespace, service), prefixed dst_. */
export const DEFAULT_DST_LABELS: readonly string[] = ["dst_namespace", "dst_service"];
const RESPONSE = ["status_code", "classification", "error"];

/** The label values of one route on one destination. */
export interface RouteLabels {
  direction: "inbound" | "outbound";
  dst: string;
  rt_route: string;
}

export interface ResponseOutcome {
  status: number;
  failure: boolean;
  /** A proxy error label (e.g. "timeout"), or "". */
  error: string;
}

type Labels = Record<string, string>;

export class RouteMetricFamilies {
  readonly requestTotal: Counter;
  readonly responseTotal: Counter;
  readonly responseLatency: Histogram;
  readonly actualRequestTotal: Counter;
  readonly actualResponseTotal: Counter;
  readonly retryableTotal: Counter;

  /** `dstLabels` are the dst_* label names this registry carries (fixed when families are made). */
  constructor(
    registry: Registry,
    readonly dstLabels: readonly string[] = DEFAULT_DST_LABELS,
  ) {
    const base = [...BASE, ...dstLabels];
    const registers = [registry];
    this.requestTotal = new Counter({
      name: "route_request_total",
      help: "Requests per route.",
      labelNames: base,
      registers,
    });
    this.responseTotal = new Counter({
      name: "route_response_total",
      help: "Responses per route, after retries.",
      labelNames: [...base, ...RESPONSE],
      registers,
    });
    this.responseLatency = new Histogram({
      name: "route_response_latency_ms",
      help: "Response latency per route, after retries, in milliseconds.",
      labelNames: [...base, "status_code"],
      buckets: LATENCY_BUCKETS_MS,
      registers,
    });
    this.actualRequestTotal = new Counter({
      name: "route_actual_request_total",
      help: "Requests per route, counting every attempt.",
      labelNames: base,
      registers,
    });
    this.actualResponseTotal = new Counter({
      name: "route_actual_response_total",
      help: "Responses per route, counting every attempt.",
      labelNames: [...base, ...RESPONSE],
      registers,
    });
    this.retryableTotal = new Counter({
      name: "route_retryable_total",
      help: "Retryable requests that were not retried, by reason.",
      labelNames: [...base, "skipped"],
      registers,
    });
  }

  /** The children of one (route, destination), with dst_* labels taken from `dst`. */
  scope(route: RouteLabels, dst: Readonly<Record<string, string>> = {}): RouteScope {
    const labels: Labels = { ...route };
    for (const name of this.dstLabels) labels[name] = dst[name.replace(/^dst_/, "")] ?? "";
    return new RouteScope(this, labels);
  }
}

export class RouteScope {
  private readonly request: { inc(): void };
  private readonly actualRequest: { inc(): void };

  constructor(
    private readonly f: RouteMetricFamilies,
    private readonly labels: Labels,
  ) {
    this.request = f.requestTotal.labels(labels);
    this.actualRequest = f.actualRequestTotal.labels(labels);
  }

  requested(): void {
    this.request.inc();
  }

  attempted(): void {
    this.actualRequest.inc();
  }

  attemptDone(o: ResponseOutcome): void {
    this.f.actualResponseTotal.labels(this.responseLabels(o)).inc();
  }

  responded(o: ResponseOutcome, latencyMs: number): void {
    this.f.responseTotal.labels(this.responseLabels(o)).inc();
    this.f.responseLatency
      .labels({ ...this.labels, status_code: String(o.status) })
      .observe(latencyMs);
  }

  noBudget(): void {
    this.f.retryableTotal.labels({ ...this.labels, skipped: "no_budget" }).inc();
  }

  private responseLabels(o: ResponseOutcome): Labels {
    return {
      ...this.labels,
      status_code: String(o.status),
      classification: o.failure ? "failure" : "success",
      error: o.error,
    };
  }
}
