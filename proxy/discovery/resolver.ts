/**
 * Discovery behind the proxy's routing seam (proxy/route/resolver.ts). Outbound targets are
 * resolved through the destination service — by authority when it is a cluster name, else by
 * `ip:port` (a Service cluster IP resolves to its endpoints, a pod IP to the pod) — and
 * balanced with P2C over peak-EWMA: the chosen endpoint comes first in the returned set; opaque
 * connections are balanced by `connectOpaque` (L4 P2C with failover).
 * Names the destination does not know, and a control plane that has not answered yet, fall
 * back to the original destination.
 */
import type * as net from "node:net";
import type { ProxyConfig } from "../config";
import { NoEndpointsError } from "../balance/errors";
import { connectBalanced } from "../balance/l4";
import { P2cBalancer, type BalancerOptions } from "../balance/p2c";
import {
  defaultEndpoint,
  type Endpoint,
  type EndpointSet,
  type Resolver,
  type Target,
} from "../route/resolver";
import { Discovery, type Resolution } from "./client";
import type { DiscoveredEndpoint, EndpointState } from "./state";

export interface DiscoveryResolverOptions {
  discovery: Discovery;
  clusterDomain?: string;
  /** How long a first lookup waits for the destination service before falling back, ms. */
  waitMs?: number;
  balancer?: BalancerOptions<DiscoveredEndpoint>;
  /** Balancers unused this long are dropped, ms (5 s outbound). */
  idleMs?: number;
}

export function toSeamEndpoint(e: DiscoveredEndpoint): Endpoint {
  return {
    address: e.address,
    port: e.port,
    identity: e.identity,
    protocolHint: e.protocolHint,
    opaqueTransportPort: e.opaqueTransportPort,
    labels: e.labels,
  };
}

/** The discovery path for a target: a cluster authority, else its address. */
export function discoveryPath(target: Target, clusterDomain: string): string {
  const auth = target.authority?.toLowerCase().replace(/\.(?=:|$)/, "");
  if (auth) {
    const withPort = /:\d+$/.test(auth) ? auth : `${auth}:${target.port}`;
    if (withPort.replace(/:\d+$/, "").endsWith(`.svc.${clusterDomain}`)) return withPort;
  }
  return target.address.includes(":")
    ? `[${target.address}]:${target.port}`
    : `${target.address}:${target.port}`;
}

interface Balanced {
  balancer: P2cBalancer<DiscoveredEndpoint>;
  state: EndpointState | undefined;
  lastUsed: number;
}

export class DiscoveryResolver implements Resolver {
  private readonly balanced = new Map<string, Balanced>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: DiscoveryResolverOptions) {
    const idle = options.idleMs ?? 5000;
    this.sweeper = setInterval(() => this.sweep(idle), Math.max(100, idle / 2));
    this.sweeper.unref();
  }

  async resolve(target: Target): Promise<EndpointSet> {
    if (target.direction === "inbound") return { endpoints: [defaultEndpoint(target)] };
    const path = discoveryPath(target, this.options.clusterDomain ?? "cluster.local");
    const handle = this.options.discovery.acquire(path);
    try {
      const r = handle.resolution;
      await this.firstAnswer(r);
      return { ...this.endpointsOf(path, r.endpoints, target), opaque: r.profile?.opaqueProtocol };
    } finally {
      handle.release();
    }
  }

  /**
   * An opaque connection's upstream: P2C over the target's endpoints by connect latency × open
   * connections; a failed connect backs its endpoint off and another is tried.
   */
  async connectOpaque(
    target: Target,
    connect: (endpoint: Endpoint) => Promise<net.Socket>,
  ): Promise<net.Socket> {
    const path = discoveryPath(target, this.options.clusterDomain ?? "cluster.local");
    const handle = this.options.discovery.acquire(path);
    try {
      const r = handle.resolution;
      await this.firstAnswer(r);
      const state = r.endpoints;
      if (state.kind === "pending" || (state.kind === "none" && !state.exists))
        return await connect(defaultEndpoint(target));
      if (state.kind === "none") throw new NoEndpointsError(path);
      const b = this.synced(path, state);
      return (await connectBalanced(b.balancer, (e) => connect(toSeamEndpoint(e)))).socket;
    } finally {
      handle.release();
    }
  }

  /**
   * Waits, bounded and once per resolution, for the destination's first answer (endpoints and
   * profile); a destination that does not answer in time is not waited for again.
   */
  private async firstAnswer(r: Resolution): Promise<void> {
    if (r.waitedOut) return;
    const ms = this.options.waitMs ?? 1000;
    const [endpoints, profile] = await Promise.all([r.waitForEndpoints(ms), r.waitForProfile(ms)]);
    if (!endpoints || !profile) r.waitedOut = true;
  }

  close(): void {
    clearInterval(this.sweeper);
    this.balanced.clear();
  }

  private endpointsOf(path: string, state: EndpointState, target: Target): EndpointSet {
    if (state.kind === "pending" || (state.kind === "none" && !state.exists)) {
      return { endpoints: [defaultEndpoint(target)] };
    }
    if (state.kind === "none") return { endpoints: [] };
    const b = this.synced(path, state);
    const first = b.balancer.pick();
    const rest = [...state.endpoints.values()].filter((e) => e !== first?.endpoint);
    return { endpoints: (first ? [first.endpoint, ...rest] : rest).map(toSeamEndpoint) };
  }

  /** The balancer of `path`, fed the resolution's current endpoints. */
  private synced(path: string, state: Extract<EndpointState, { kind: "endpoints" }>): Balanced {
    const b = this.balancerFor(path);
    if (b.state !== state) {
      b.balancer.update(state.endpoints);
      b.state = state;
    }
    return b;
  }

  private balancerFor(path: string): Balanced {
    let b = this.balanced.get(path);
    if (!b) {
      const options = { ...this.options.balancer, weight: (e: DiscoveredEndpoint) => e.weight };
      b = { balancer: new P2cBalancer(path, options), state: undefined, lastUsed: 0 };
      this.balanced.set(path, b);
    }
    b.lastUsed = performance.now();
    return b;
  }

  private sweep(idleMs: number): void {
    const now = performance.now();
    for (const [k, b] of this.balanced) {
      // Open connections keep their balancer: its counts are what L4 P2C compares.
      const busy = b.balancer.endpoints().some((s) => s.ewma.pending > 0);
      if (!busy && now - b.lastUsed > idleMs) this.balanced.delete(k);
    }
  }
}

/** The resolver the proxy uses: discovery when WEFT_PROXY_DESTINATION_SVC_ADDR is set, else undefined (the default). */
export function resolverFromConfig(config: ProxyConfig): Resolver | undefined {
  const addr = config.destination.svcAddr;
  if (!addr) return undefined;
  const discovery = new Discovery({
    address: addr,
    contextToken: config.destination.context ?? "",
  });
  return new DiscoveryResolver({ discovery });
}
