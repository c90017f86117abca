// The discovery stack the executable plugs into startProxy when a destination service is
// configured: one destination client shared by the per-connection resolver (opaque TCP, HTTP/2)
// and the route-aware outbound HTTP/1 handler (profiles, timeouts, retries, P2C per request).

import type { ProxyConfig } from "../config";
import { Discovery } from "../discovery/client";
import { DiscoveryResolver } from "../discovery/resolver";
import type { Http1Handler } from "../listener";
import type { ProxyMetrics } from "../metrics/metrics";
import type { Resolver } from "../route/resolver";
import type { TlsSeam } from "../tls/seam";
import { outboundHttpConnections } from "./adapter";
import { OutboundHttp, type OutboundHttpOptions } from "./http";
import { RouteMetricFamilies } from "./metrics";

export interface DiscoveryStack {
  readonly resolver: Resolver;
  readonly outboundHttp1: Http1Handler;
  close(): void;
}

export interface StackOptions {
  readonly tls: TlsSeam;
  readonly metrics: ProxyMetrics;
  /** Balancer and timing overrides (tests). */
  readonly http?: Partial<Pick<OutboundHttpOptions, "balancer" | "profileTimeoutMs">>;
}

/** Undefined without WEFT_PROXY_DESTINATION_SVC_ADDR: the proxy keeps its default data path. */
export function discoveryStack(
  config: ProxyConfig,
  opts: StackOptions,
): DiscoveryStack | undefined {
  const address = config.destination.svcAddr;
  if (address === undefined) return undefined;
  const discovery = new Discovery({ address, contextToken: config.destination.context ?? "" });
  const resolver = new DiscoveryResolver({ discovery });
  const outbound = new OutboundHttp({
    ...opts.http,
    discovery,
    metrics: new RouteMetricFamilies(opts.metrics.registry),
    proxy: { tls: opts.tls, metrics: opts.metrics },
  });
  return {
    resolver,
    outboundHttp1: outboundHttpConnections(outbound),
    close: (): void => {
      outbound.close();
      resolver.close();
      discovery.close();
    },
  };
}
