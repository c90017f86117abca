// Assembles the proxy from its layers and runs it: inbound and outbound listeners, the admin
// server, the reserved tap/control port, and the graceful drain shared by SIGTERM and /shutdown.

import type * as http from "node:http";
import * as net from "node:net";
import { Readiness, readiness as processReadiness } from "./admin/readiness";
import { createAdminServer } from "./admin/server";
import { formatHostPort, type ProxyConfig } from "./config";
import { Http1Pool } from "./http1/pool";
import { H2Pool } from "./http2/proxy";
import { loadInterception, type Interception } from "./interception";
import { Listener, type Http1Routes, type ListenerEnv } from "./listener";
import { Logger } from "./log";
import { ProxyMetrics, type Direction } from "./metrics/metrics";
import { OriginalDestinationResolver, type Resolver } from "./route/resolver";
import { reservedControlServer, type ControlServer } from "./tap/seam";
import { noTls, type TlsSeam } from "./tls/seam";

export interface ProxyOptions {
  /** Where connections go; default: the original destination (outbound), loopback (inbound). */
  readonly resolver?: Resolver;
  /** TLS origination/termination; default: none. */
  readonly tls?: TlsSeam;
  /** Readiness gates for /ready; default: the process-wide gates of admin/readiness. */
  readonly readiness?: Readiness;
  readonly metrics?: ProxyMetrics;
  readonly log?: Logger;
  /** SO_ORIGINAL_DST; default: proxy/native/original-dst, or "unavailable" when it is missing. */
  readonly interception?: Interception;
  /** The tap server on the control port; default: the port is reserved and closes connections. */
  readonly control?: ControlServer;
  /** Largest accepted HTTP/1 head, bytes. */
  readonly maxHeadBytes?: number;
  /**
   * HTTP/1 upstream connections being opened to one endpoint at once (default 8): enough to open
   * connections quickly, few enough that a burst of new clients does not start a connect (and
   * to a meshed peer a TLS handshake) per request while earlier ones are still finishing.
   */
  readonly http1MaxConnectingPerEndpoint?: number;
  /**
   * Resolve each HTTP request (by its authority) rather than each connection. Default: true
   * when a resolver is given, so discovery balances per request.
   */
  readonly resolvePerRequest?: boolean;
  /**
   * The route layer of outbound HTTP/1 (profiles, retries, timeouts, balancing per request):
   * the engine asks it, per request, where each attempt goes. Inbound goes to the app as is.
   */
  readonly outboundHttp1?: Http1Routes;
}

export interface RunningProxy {
  readonly inbound: net.AddressInfo;
  readonly outbound: net.AddressInfo;
  /** The IPv6 companions of inbound ([::]) and outbound ([::1]); undefined without IPv6. */
  readonly inbound6: net.AddressInfo | undefined;
  readonly outbound6: net.AddressInfo | undefined;
  readonly admin: net.AddressInfo;
  readonly control: net.AddressInfo;
  readonly metrics: ProxyMetrics;
  readonly log: Logger;
  readonly readiness: Readiness;
  readonly interception: Interception;
  /** Stop accepting, let in-flight work finish within the grace period, then close everything. */
  drain(): Promise<void>;
  /** Close everything now. */
  close(): Promise<void>;
  /** Resolves once the proxy has drained or closed (after SIGTERM or POST /shutdown). */
  readonly done: Promise<void>;
}

function listen(server: net.Server, host: string, port: number): Promise<net.AddressInfo> {
  return listenOn(server, { host, port });
}

/**
 * The IPv6 address a listener also takes, so that ip6tables' REDIRECT (to ::1 for outbound, to
 * the interface's v6 address for inbound) finds a socket: 127.0.0.1 → ::1, 0.0.0.0 → ::.
 * Undefined when the configured address is not one of those two.
 */
export function ipv6Companion(host: string): string | undefined {
  if (host === "127.0.0.1") return "::1";
  if (host === "0.0.0.0") return "::";
  return undefined;
}

/** Errors that mean "this host has no IPv6 (or no ::1)", not "something is wrong". */
const NO_IPV6 = new Set(["EADDRNOTAVAIL", "EAFNOSUPPORT", "EPROTONOSUPPORT"]);

/** An IPv6 listener's address, or why the host could not give it one (a NO_IPV6 code). */
type V6 = net.AddressInfo | { readonly unavailable: string } | undefined;

/**
 * Listens on the IPv6 companion address at the IPv4 listener's port (v6-only, so it does not
 * collide with the IPv4 socket). A host without IPv6 answers `unavailable`; other errors throw.
 */
async function listenIpv6(
  server: net.Server,
  v4: net.AddressInfo,
  configuredPort: number,
): Promise<V6> {
  const host = ipv6Companion(v4.address);
  if (host === undefined) return undefined;
  try {
    return await listenOn(server, { host, port: v4.port, ipv6Only: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    // Port 0 asked for any port: the one IPv4 got may be taken on IPv6, which is no fault.
    const anyPort = configuredPort === 0 && code === "EADDRINUSE";
    if (!NO_IPV6.has(code) && !anyPort) throw err;
    return { unavailable: `[${host}]:${v4.port} (${code})` };
  }
}

function v6Address(v6: V6): net.AddressInfo | undefined {
  return v6 === undefined || "unavailable" in v6 ? undefined : v6;
}

/** One line for a host without IPv6, however many listeners it affects. */
function warnIfNoIpv6(log: Logger, results: readonly V6[]): void {
  const missing = results.flatMap((r) => (r !== undefined && "unavailable" in r ? [r] : []));
  if (missing.length === 0) return;
  const what = missing.map((m) => m.unavailable).join(", ");
  log.warn(`IPv6 unavailable, listening on IPv4 only: cannot listen on ${what}`);
}

function listenOn(server: net.Server, options: net.ListenOptions): Promise<net.AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options, () => {
      server.removeListener("error", reject);
      resolve(server.address() as net.AddressInfo);
    });
  });
}

interface Parts {
  readonly listeners: readonly Listener[];
  readonly pools: readonly Http1Pool[];
  readonly h2: readonly H2Pool[];
  /** The admin and control servers: IPv4, and their IPv6 companions (probes may come over v6). */
  readonly admins: readonly http.Server[];
  readonly controls: readonly net.Server[];
}

function direction(
  config: ProxyConfig,
  d: Direction,
  deps: Deps,
): { listener: Listener; listener6: Listener; pool: Http1Pool; h2: H2Pool } {
  const dc = d === "inbound" ? config.inbound : config.outbound;
  const common = {
    direction: d,
    connectTimeoutMs: dc.connectTimeoutMs,
    tls: deps.tls,
    metrics: deps.metrics,
  };
  const pool = new Http1Pool({
    ...common,
    idleTimeoutMs: config.http1PoolIdleTimeoutMs,
    maxIdlePerEndpoint: 256,
    maxConnectingPerEndpoint: deps.http1MaxConnecting,
  });
  const h2 = new H2Pool({ ...common, log: deps.log });
  const env: ListenerEnv = {
    ...common,
    config: dc,
    resolver: deps.resolver,
    log: deps.log,
    interception: deps.interception,
    h1: {
      pool,
      log: deps.log,
      maxHeadBytes: deps.maxHeadBytes,
      idleTimeoutMs: config.http1ClientIdleTimeoutMs,
    },
    h2,
    opaque: common,
    // Inbound requests all go to the app on loopback: resolving each would only add a wait.
    resolvePerRequest: d === "outbound" && deps.resolvePerRequest,
    http1Router: d === "outbound" ? deps.outboundHttp1 : undefined,
    requireIdentity: d === "inbound" ? config.inboundPortsRequireIdentity : new Set<number>(),
  };
  // Same pools and layers; only the socket differs (listened on by listenIpv6).
  return { listener: new Listener(env), listener6: new Listener(env), pool, h2 };
}

interface Deps {
  readonly tls: TlsSeam;
  readonly metrics: ProxyMetrics;
  readonly log: Logger;
  readonly resolver: Resolver;
  readonly interception: Interception;
  readonly maxHeadBytes: number;
  readonly http1MaxConnecting: number;
  readonly resolvePerRequest: boolean;
  readonly outboundHttp1: Http1Routes | undefined;
}

function makeDeps(config: ProxyConfig, options: ProxyOptions): Deps {
  return {
    log: options.log ?? new Logger(config.log.level, config.log.format),
    metrics: options.metrics ?? new ProxyMetrics(),
    tls: options.tls ?? noTls(config.identityDisabled),
    resolver: options.resolver ?? new OriginalDestinationResolver(),
    interception: options.interception ?? loadInterception(),
    maxHeadBytes: options.maxHeadBytes ?? 64 * 1024,
    http1MaxConnecting: options.http1MaxConnectingPerEndpoint ?? 8,
    // The default resolver's answer is fixed per connection; a plugged-in one may balance per request.
    resolvePerRequest: options.resolvePerRequest ?? options.resolver !== undefined,
    outboundHttp1: options.outboundHttp1,
  };
}

/** Starts the proxy; resolves once every port is listening. */
export async function startProxy(
  config: ProxyConfig,
  options: ProxyOptions = {},
): Promise<RunningProxy> {
  const deps = makeDeps(config, options);
  const readiness = options.readiness ?? processReadiness;
  const inbound = direction(config, "inbound", deps);
  const outbound = direction(config, "outbound", deps);
  const controlServer = options.control ?? reservedControlServer;
  const newControl = (): net.Server => net.createServer((s) => controlServer.handleConnection(s));
  const ref: { drainer?: Drainer } = {};
  const newAdmin = (): http.Server =>
    createAdminServer({
      readiness,
      metrics: deps.metrics,
      log: deps.log,
      shutdownEnabled: config.admin.shutdownEndpointEnabled,
      draining: () => ref.drainer?.started ?? false,
      shutdown: () => void ref.drainer?.drain(),
    });
  const [admin, admin6, control, control6] = [newAdmin(), newAdmin(), newControl(), newControl()];
  const parts: Parts = {
    listeners: [inbound.listener, outbound.listener, inbound.listener6, outbound.listener6],
    pools: [inbound.pool, outbound.pool],
    h2: [inbound.h2, outbound.h2],
    admins: [admin, admin6],
    controls: [control, control6],
  };
  const d = new Drainer(parts, config.shutdownGracePeriodMs, deps.log);
  ref.drainer = d;
  try {
    const [inAddr, outAddr, adminAddr, controlAddr] = await Promise.all([
      inbound.listener.listen(),
      outbound.listener.listen(),
      listen(admin, config.admin.listen.host, config.admin.listen.port),
      listen(control, config.control.listen.host, config.control.listen.port),
    ]);
    const v6 = await Promise.all([
      listenIpv6(inbound.listener6.server, inAddr, config.inbound.listen.port),
      listenIpv6(outbound.listener6.server, outAddr, config.outbound.listen.port),
      listenIpv6(admin6, adminAddr, config.admin.listen.port),
      listenIpv6(control6, controlAddr, config.control.listen.port),
    ]);
    const [in6, out6] = v6;
    warnIfNoIpv6(deps.log, v6);
    warnIfNoInterception(config, deps);
    return {
      inbound: inAddr,
      outbound: outAddr,
      inbound6: v6Address(in6),
      outbound6: v6Address(out6),
      admin: adminAddr,
      control: controlAddr,
      metrics: deps.metrics,
      log: deps.log,
      readiness,
      interception: deps.interception,
      drain: () => d.drain(),
      close: () => d.close(),
      done: d.done,
    };
  } catch (err) {
    await d.close();
    throw err;
  }
}

function warnIfNoInterception(config: ProxyConfig, deps: Deps): void {
  const status = deps.interception.interceptionAvailable();
  if (status.ok) return;
  const fixed =
    config.inbound.fixedTarget !== undefined && config.outbound.fixedTarget !== undefined;
  if (!fixed) deps.log.warn(`cannot intercept connections: ${status.reason}`);
}

/** Graceful shutdown: one drain, however many times it is asked for. */
class Drainer {
  started = false;
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly parts: Parts,
    private readonly graceMs: number,
    private readonly log: Logger,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  drain(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.started = true;
    this.log.info("draining", { gracePeriodMs: this.graceMs });
    const p = this.parts;
    for (const c of p.controls) c.close();
    for (const l of p.listeners) l.drain();
    for (const pool of p.pools) pool.closeIdle();
    for (const h2 of p.h2) h2.closeAll();
    this.closing = this.waitIdle().then(() => this.finish());
    return this.closing;
  }

  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.started = true;
    for (const c of this.parts.controls) c.close();
    this.closing = this.finish();
    return this.closing;
  }

  private waitIdle(): Promise<void> {
    const deadline = Date.now() + this.graceMs;
    const busy = (): boolean => this.parts.listeners.some((l) => l.connections > 0);
    return new Promise((resolve) => {
      const check = (): void => {
        if (!busy() || Date.now() >= deadline) resolve();
        else setTimeout(check, 20);
      };
      check();
    });
  }

  private async finish(): Promise<void> {
    const p = this.parts;
    for (const l of p.listeners) l.destroyAll();
    for (const pool of p.pools) pool.destroyAll();
    for (const h2 of p.h2) h2.destroyAll();
    await Promise.all(
      p.admins.map((admin) => {
        admin.closeAllConnections();
        return new Promise<void>((resolve) => admin.close(() => resolve()));
      }),
    );
    this.log.info("stopped");
    this.resolveDone();
  }
}

export function describe(proxy: RunningProxy): string {
  const a = (x: net.AddressInfo): string => formatHostPort({ host: x.address, port: x.port });
  const v6 = [
    proxy.inbound6 === undefined ? "" : ` inbound6=${a(proxy.inbound6)}`,
    proxy.outbound6 === undefined ? "" : ` outbound6=${a(proxy.outbound6)}`,
  ].join("");
  return `inbound=${a(proxy.inbound)} outbound=${a(proxy.outbound)} admin=${a(proxy.admin)} control=${a(proxy.control)}${v6}`;
}
