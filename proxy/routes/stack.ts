// The discovery stack the executable plugs into startProxy when a destination service is
// configured: one destination client shared by the per-connection resolver (opaque TCP) and the
// route layer of outbound HTTP/1 and HTTP/2 (profiles, timeouts, retries, P2C per request).

import type { ProxyConfig } from "../config";
import { Discovery } from "../discovery/client";
import { DiscoveryResolver } from "../discovery/resolver";
import type { Http1Routes } from "../listener";
import type { ProxyMetrics } from "../metrics/metrics";
import type { Resolver } from "../route/resolver";
import type { TlsSeam } from "../tls/seam";
import { OutboundH2 } from "./h2";
import { OutboundHttp1 } from "./h1";
import { LogicalServices, type LogicalServicesOptions } from "./logical";
import { RouteMetricFamilies } from "./metrics";

export interface DiscoveryStack {
  readonly resolver: Resolver;
  readonly outboundHttp1: Http1Routes;
  close(): void;
}

export interface StackOptions {
  readonly tls: TlsSeam;
  readonly metrics: ProxyMetrics;
  /** Balancer and timing overrides (tests). */
  readonly http?: Partial<Pick<LogicalServicesOptions, "balancer" | "profileTimeoutMs">>;
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
  const proxy = { tls: opts.tls, metrics: opts.metrics };
  const services = new LogicalServices({
    ...opts.http,
    discovery,
    metrics: new RouteMetricFamilies(opts.metrics.registry),
  });
  const outbound = new OutboundHttp1(services, proxy);
  const h2 = new OutboundH2({ services, proxy });
  return {
    resolver: {
      resolve: (target) => resolver.resolve(target),
      connectOpaque: (target, connect) => resolver.connectOpaque(target, connect),
      outboundH2: (dst, pool) => h2.handler(dst, pool),
    },
    outboundHttp1: (dst) => outbound.router(dst),
    close: (): void => {
      services.close();
      resolver.close();
      discovery.close();
    },
  };
}
