// The proxy's Prometheus metrics, with Linkerd's family names, labels and buckets so dashboards
// written for Linkerd work unchanged. Label children are looked up once per connection or per
// (authority, status) and cached, so a request costs a few map lookups and increments.

import { Counter, Gauge, Registry, type Metric } from "./prom";
import { CounterFamily, HistogramFamily, type CounterSeries, type HistogramSeries } from "./series";

export type Direction = "inbound" | "outbound";

/** The `tls` label family: `tls="true"` + server_id/client_id, `no_identity` + reason, `disabled`. */
export interface TlsLabels {
  readonly tls: "true" | "no_identity" | "disabled" | "opaque";
  readonly no_tls_reason?: string;
  readonly server_id?: string;
  readonly client_id?: string;
  readonly sni?: string;
}

/** Linkerd's response_latency_ms buckets, in milliseconds. */
export const LATENCY_BUCKETS_MS: readonly number[] = [
  1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000,
  20000, 30000, 40000, 50000,
];

const TLS = ["tls", "no_tls_reason", "server_id", "client_id", "sni"];
const TCP_LABELS = ["direction", "peer", "target_addr", ...TLS];

type Labels = Record<string, string>;

interface ResponseChildren {
  readonly total: CounterSeries;
  readonly latency: HistogramSeries;
}

/** Metrics of one authority on one (direction, target, tls) scope. */
export class RouteMetrics {
  private readonly requests: CounterSeries;
  private readonly responses = new Map<string, ResponseChildren>();

  constructor(
    private readonly m: ProxyMetrics,
    private readonly labels: Labels,
  ) {
    this.requests = m.requestTotal.add(labels);
  }

  request(): void {
    this.requests.value++;
  }

  /** `grpcStatus` is -1 when the response is not gRPC; `error` is a proxy error label or "". */
  response(status: number, grpcStatus: number, error: string, latencyMs: number): void {
    const key = grpcStatus < 0 && error === "" ? status : `${status}|${grpcStatus}|${error}`;
    let children = this.responses.get(key as string);
    if (children === undefined) {
      children = this.children(status, grpcStatus, error);
      this.responses.set(key as string, children);
    }
    children.total.value++;
    children.latency.observe(latencyMs);
  }

  private children(status: number, grpcStatus: number, error: string): ResponseChildren {
    const failure = status >= 500 || grpcStatus > 0 || error !== "";
    const withStatus: Labels = { ...this.labels, status_code: String(status) };
    const total: Labels = { ...withStatus, classification: failure ? "failure" : "success" };
    if (grpcStatus >= 0) total.grpc_status = String(grpcStatus);
    if (error !== "") total.error = error;
    return {
      total: this.m.responseTotal.add(total),
      latency: this.m.responseLatency.add(withStatus),
    };
  }
}

/** HTTP metrics of one (direction, target_addr, tls) scope, per authority. */
export class HttpScope {
  private readonly routes = new Map<string, RouteMetrics>();

  constructor(
    private readonly m: ProxyMetrics,
    private readonly labels: Labels,
  ) {}

  route(authority: string): RouteMetrics {
    let route = this.routes.get(authority);
    if (route === undefined) {
      const { direction, target_addr, ...tls } = this.labels;
      route = new RouteMetrics(this.m, { direction, authority, target_addr, ...tls });
      if (this.routes.size < 1000) this.routes.set(authority, route);
    }
    return route;
  }
}

/** TCP metrics of one connection; `closed` is called exactly once. */
/** What a connection has transferred so far (a net.Socket is one). */
export interface ByteSource {
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

/**
 * TCP metrics of one connection; `closed` is called exactly once. Byte counts of open
 * connections are brought up to date when Prometheus scrapes, so long-lived connections show
 * their traffic without a cost per read or write.
 */
export class TcpConnMetrics {
  private open = true;
  private countedRead = 0;
  private countedWritten = 0;

  constructor(
    private readonly m: ProxyMetrics,
    private readonly labels: Labels,
    private readonly source: ByteSource | undefined,
  ) {
    m.tcpOpenTotal.labels(labels).inc();
    m.tcpOpenConnections.labels(labels).inc();
    if (source !== undefined) m.openConns.add(this);
  }

  /** Adds what was transferred since the last flush. */
  flush(read = this.source?.bytesRead ?? 0, written = this.source?.bytesWritten ?? 0): void {
    const m = this.m;
    if (read > this.countedRead) m.tcpReadBytes.labels(this.labels).inc(read - this.countedRead);
    if (written > this.countedWritten) {
      m.tcpWriteBytes.labels(this.labels).inc(written - this.countedWritten);
    }
    this.countedRead = Math.max(read, this.countedRead);
    this.countedWritten = Math.max(written, this.countedWritten);
  }

  closed(readBytes: number, writeBytes: number, errno: string | undefined): void {
    if (!this.open) return;
    this.open = false;
    const m = this.m;
    m.openConns.delete(this);
    m.tcpOpenConnections.labels(this.labels).dec();
    m.tcpCloseTotal.labels(errno === undefined ? this.labels : { ...this.labels, errno }).inc();
    this.flush(readBytes, writeBytes);
  }
}

/**
 * TCP metrics of an accepted connection whose TLS labels are known only later: inbound mTLS is
 * labelled with the client's identity once terminated. The connection is counted open once, with
 * the first labels given; one that closes before any were given counts with the fallback labels.
 */
export class DeferredTcpMetrics {
  private conn: TcpConnMetrics | undefined;

  constructor(
    private readonly create: (tls: TlsLabels) => TcpConnMetrics,
    private readonly fallback: TlsLabels,
  ) {}

  open(tls: TlsLabels = this.fallback): void {
    this.conn ??= this.create(tls);
  }

  closed(readBytes: number, writeBytes: number, errno: string | undefined): void {
    this.open();
    this.conn?.closed(readBytes, writeBytes, errno);
  }
}

function dstLabels(dst: Labels | undefined): Labels {
  const out: Labels = {};
  if (dst !== undefined) for (const [k, v] of Object.entries(dst)) out[`dst_${k}`] = v;
  return out;
}

function tlsLabels(tls: TlsLabels): Labels {
  const out: Labels = {};
  for (const [k, v] of Object.entries(tls)) if (v !== undefined) out[k] = v;
  return out;
}

export class ProxyMetrics {
  readonly registry: Registry;
  readonly requestTotal: CounterFamily;
  readonly responseTotal: CounterFamily;
  readonly responseLatency: HistogramFamily;
  readonly tcpOpenTotal: Counter;
  readonly tcpCloseTotal: Counter;
  readonly tcpOpenConnections: Gauge;
  readonly tcpReadBytes: Counter;
  readonly tcpWriteBytes: Counter;
  readonly detectTimeouts: Counter;
  private readonly scopes = new Map<string, HttpScope>();
  /** Connections whose byte counts are brought up to date at each scrape. */
  readonly openConns = new Set<TcpConnMetrics>();

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    const r = [registry];
    this.requestTotal = new CounterFamily("request_total", "Total count of HTTP requests.");
    this.responseTotal = new CounterFamily("response_total", "Total count of HTTP responses.");
    this.responseLatency = new HistogramFamily(
      "response_latency_ms",
      "Elapsed times between a request's headers being received and its response stream completing",
      LATENCY_BUCKETS_MS,
    );
    for (const family of [this.requestTotal, this.responseTotal, this.responseLatency]) {
      registry.registerMetric(family as unknown as Metric);
    }
    this.tcpOpenTotal = new Counter({
      name: "tcp_open_total",
      help: "Total count of opened connections",
      labelNames: TCP_LABELS,
      registers: r,
    });
    this.tcpCloseTotal = new Counter({
      name: "tcp_close_total",
      help: "Total count of closed connections",
      labelNames: [...TCP_LABELS, "errno"],
      registers: r,
    });
    this.tcpOpenConnections = new Gauge({
      name: "tcp_open_connections",
      help: "Number of currently-open connections",
      labelNames: TCP_LABELS,
      registers: r,
    });
    const flushOpen = (): void => {
      for (const c of this.openConns) c.flush();
    };
    this.tcpReadBytes = new Counter({
      name: "tcp_read_bytes_total",
      help: "Total count of bytes read from peers",
      labelNames: TCP_LABELS,
      collect: flushOpen,
      registers: r,
    });
    this.tcpWriteBytes = new Counter({
      name: "tcp_write_bytes_total",
      help: "Total count of bytes written to peers",
      labelNames: TCP_LABELS,
      collect: flushOpen,
      registers: r,
    });
    this.detectTimeouts = new Counter({
      name: "protocol_detect_timeout_total",
      help: "Connections whose protocol detection timed out and that were then forwarded as opaque TCP",
      labelNames: ["direction", "target_addr"],
      registers: r,
    });
  }

  /** `dst` are the endpoint's labels from discovery; they are exported prefixed `dst_`. */
  http(direction: Direction, targetAddr: string, tls: TlsLabels, dst?: Labels): HttpScope {
    const dstKey = dst === undefined ? "" : JSON.stringify(dst);
    const key = `${direction}|${targetAddr}|${tls.tls}|${tls.server_id ?? tls.client_id ?? ""}|${dstKey}`;
    let scope = this.scopes.get(key);
    if (scope === undefined) {
      const labels = { direction, target_addr: targetAddr, ...tlsLabels(tls), ...dstLabels(dst) };
      scope = new HttpScope(this, labels);
      if (this.scopes.size < 10_000) this.scopes.set(key, scope);
    }
    return scope;
  }

  tcp(
    direction: Direction,
    peer: "src" | "dst",
    targetAddr: string,
    tls: TlsLabels,
    source?: ByteSource,
  ): TcpConnMetrics {
    const labels = { direction, peer, target_addr: targetAddr, ...tlsLabels(tls) };
    return new TcpConnMetrics(this, labels, source);
  }

  /** TCP metrics opened later, by `open(tls)` or at close with `fallback` (see DeferredTcpMetrics). */
  tcpDeferred(
    direction: Direction,
    peer: "src" | "dst",
    targetAddr: string,
    fallback: TlsLabels,
    source?: ByteSource,
  ): DeferredTcpMetrics {
    const create = (tls: TlsLabels): TcpConnMetrics =>
      this.tcp(direction, peer, targetAddr, tls, source);
    return new DeferredTcpMetrics(create, fallback);
  }

  detectTimeout(direction: Direction, targetAddr: string): void {
    this.detectTimeouts.labels({ direction, target_addr: targetAddr }).inc();
  }
}
