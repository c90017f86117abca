/**
 * Route metrics with Linkerd's names and labels: route_request_total, route_response_total,
 * route_response_latency_ms (effective, after retries), route_actual_request_total and
 * route_actual_response_total (every attempt), route_retryable_total{skipped="no_budget"}.
 * Labels: direction, dst, rt_route, plus dst_* from the destination's metric labels.
 */
import type { Metric, Registry } from "prom-client";
import {
  CounterFamily,
  HistogramFamily,
  type CounterSeries,
  type HistogramSeries,
} from "../metrics/series";

export const LATENCY_BUCKETS_MS = [
  1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000,
  20000, 30000, 40000, 50000,
];

/** The destination's set-level labels (namespace, service), prefixed dst_. */
export const DEFAULT_DST_LABELS: readonly string[] = ["dst_namespace", "dst_service"];

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
  readonly requestTotal = new CounterFamily("route_request_total", "Requests per route.");
  readonly responseTotal = new CounterFamily(
    "route_response_total",
    "Responses per route, after retries.",
  );
  readonly responseLatency = new HistogramFamily(
    "route_response_latency_ms",
    "Response latency per route, after retries, in milliseconds.",
    LATENCY_BUCKETS_MS,
  );
  readonly actualRequestTotal = new CounterFamily(
    "route_actual_request_total",
    "Requests per route, counting every attempt.",
  );
  readonly actualResponseTotal = new CounterFamily(
    "route_actual_response_total",
    "Responses per route, counting every attempt.",
  );
  readonly retryableTotal = new CounterFamily(
    "route_retryable_total",
    "Retryable requests that were not retried, by reason.",
  );
  private readonly scopes = new Map<string, RouteScope>();

  /** `dstLabels` are the dst_* label names this registry carries (fixed when families are made). */
  constructor(
    registry: Registry,
    readonly dstLabels: readonly string[] = DEFAULT_DST_LABELS,
  ) {
    for (const family of [
      this.requestTotal,
      this.responseTotal,
      this.responseLatency,
      this.actualRequestTotal,
      this.actualResponseTotal,
      this.retryableTotal,
    ])
      registry.registerMetric(family as unknown as Metric);
  }

  /**
   * The series of one (route, destination), with dst_* labels taken from `dst`; the same label
   * set always gets the same scope, so a destination dropped and looked up again adds no duplicate.
   */
  scope(route: RouteLabels, dst: Readonly<Record<string, string>> = {}): RouteScope {
    const labels: Labels = { ...route };
    for (const name of this.dstLabels) labels[name] = dst[name.replace(/^dst_/, "")] ?? "";
    const key = JSON.stringify(labels);
    let scope = this.scopes.get(key);
    if (scope === undefined) this.scopes.set(key, (scope = new RouteScope(this, labels)));
    return scope;
  }
}

interface OutcomeSeries {
  readonly response: CounterSeries;
  readonly actualResponse: CounterSeries;
  readonly latency: HistogramSeries;
}

/** A route's series; those of each outcome are made once and then only incremented. */
export class RouteScope {
  private readonly request: CounterSeries;
  private readonly actualRequest: CounterSeries;
  private readonly outcomes = new Map<string, OutcomeSeries>();
  private noBudgetSeries: CounterSeries | undefined;

  constructor(
    private readonly f: RouteMetricFamilies,
    private readonly labels: Labels,
  ) {
    this.request = f.requestTotal.add(labels);
    this.actualRequest = f.actualRequestTotal.add(labels);
  }

  requested(): void {
    this.request.value++;
  }

  attempted(): void {
    this.actualRequest.value++;
  }

  attemptDone(o: ResponseOutcome): void {
    this.series(o).actualResponse.value++;
  }

  responded(o: ResponseOutcome, latencyMs: number): void {
    const s = this.series(o);
    s.response.value++;
    s.latency.observe(latencyMs);
  }

  noBudget(): void {
    this.noBudgetSeries ??= this.f.retryableTotal.add({ ...this.labels, skipped: "no_budget" });
    this.noBudgetSeries.value++;
  }

  private series(o: ResponseOutcome): OutcomeSeries {
    const key = `${o.status}|${o.failure ? 1 : 0}|${o.error}`;
    let s = this.outcomes.get(key);
    if (s === undefined) {
      s = this.newSeries(o);
      this.outcomes.set(key, s);
    }
    return s;
  }

  private newSeries(o: ResponseOutcome): OutcomeSeries {
    const status = { ...this.labels, status_code: String(o.status) };
    const response = {
      ...status,
      classification: o.failure ? "failure" : "success",
      error: o.error,
    };
    return {
      response: this.f.responseTotal.add(response),
      actualResponse: this.f.actualResponseTotal.add(response),
      latency: this.latencyOf(status),
    };
  }

  /** One latency series per status code, shared by its outcomes. */
  private latencyOf(labels: Labels): HistogramSeries {
    for (const s of this.outcomes.values())
      if (s.latency.labels.status_code === labels.status_code) return s.latency;
    return this.f.responseLatency.add(labels);
  }
}
