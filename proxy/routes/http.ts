/**
 * Outbound HTTP through discovery, routes and balancing: the destination's profile picks the
 * route (timeout, retries, classification, metrics); dstOverrides split traffic between
 * backends; each backend balances its endpoints with P2C over peak-EWMA and keeps a keep-alive
 * pool (an http.Agent) per endpoint.
 */
import * as http from "node:http";
import * as net from "node:net";
import type { Readable } from "node:stream";
import { errnoOf } from "../errors";
import { tunnel } from "../tcp/pipe";
import { outboundTlsLabels } from "../tls/seam";
import type { Slot } from "../balance/p2c";
import type { DiscoveredEndpoint } from "../discovery/state";
import { captureBody, type CapturedBody } from "./body";
import {
  routeRequest,
  type AttemptResponse,
  type ProxyErrorResponse,
  type Routed,
} from "./execute";
import {
  endpointMetrics,
  LogicalServices,
  type ProxyHooks,
  type Backend,
  type LogicalService,
  type LogicalServicesOptions,
  type OriginalDst,
} from "./logical";

export type { OriginalDst } from "./logical";

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

export interface OutboundHttpOptions extends LogicalServicesOptions {
  /** The logical services to use (shared with HTTP/2); default: its own. */
  services?: LogicalServices;
  /**
   * The proxy's TLS seam and metrics: meshed endpoints are reached over mTLS, and each request
   * counts in request_total/response_total by endpoint with its tls/server_id labels.
   */
  proxy?: ProxyHooks;
  /** How often pools with no connection left are dropped, ms (10 000). */
  agentSweepMs?: number;
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

/** An endpoint's pool with no connection, open or idle, and no request waiting for one. */
function agentIdle(a: http.Agent): boolean {
  const empty = (o: object): boolean => Object.keys(o).length === 0;
  return empty(a.sockets) && empty(a.freeSockets) && empty(a.requests);
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
  private readonly agents = new Map<string, http.Agent>();
  /** Endpoints come and go with pods: a pool whose connections have all closed is dropped. */
  private readonly agentSweeper: NodeJS.Timeout;
  private readonly services: LogicalServices;
  private readonly ownsServices: boolean;

  constructor(private readonly options: OutboundHttpOptions) {
    this.agentSweeper = setInterval(() => this.sweepAgents(), options.agentSweepMs ?? 10_000);
    this.agentSweeper.unref();
    this.ownsServices = options.services === undefined;
    this.services = options.services ?? new LogicalServices(options);
  }

  /** The discovery path of a request: the authority when it is a cluster name, else the original destination. */
  pathFor(authority: string | undefined, dst: OriginalDst): string {
    return this.services.pathFor(authority, dst);
  }

  /** Serves one request to `dst` (the connection's original destination). */
  async handle(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    dst: OriginalDst,
  ): Promise<void> {
    const svc = this.services.get(req.headers.host, dst);
    const startedAt = performance.now();
    const head = { method: req.method ?? "GET", path: (req.url ?? "/").split("?")[0] };
    const route = await svc.route(head, this.services.profileTimeoutMs);
    const body = await captureBody(req).catch(() => undefined);
    if (!body) return void res.destroy();
    const routed = await routeRequest<HttpAttempt>({
      route,
      budget: svc.budget,
      metrics: svc.scope(route.name),
      replayable: () => body.replayable,
      send: (signal) => this.attempt(svc, req, body, signal, startedAt),
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
    const backend = this.services.get(req.headers.host, dst).pickBackend();
    const slot = await backend.balancer.acquire();
    const inflight = backend.balancer.begin(slot);
    const up = this.connectTo(slot.endpoint);
    up.once("close", inflight.end);
    up.write(upgradeHead(req), "latin1");
    if (head.length > 0) up.write(head);
    tunnel(socket, up);
  }

  close(): void {
    if (this.ownsServices) this.services.close();
    clearInterval(this.agentSweeper);
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
    const route = endpointMetrics(proxy, authority, dst, ep);
    route.request();
    const ms = performance.now() - startedAt;
    if (routed.kind === "error") route.response(routed.error.status, -1, routed.error.error, ms);
    else route.response(routed.response.status, routed.response.grpcStatus ?? -1, "", ms);
  }

  private writeError(res: http.ServerResponse, e: ProxyErrorResponse): void {
    if (res.headersSent) return void res.destroy();
    res.writeHead(e.status, { "l5d-proxy-error": e.message, "content-length": 0 }).end();
  }

  /** Endpoint pools currently kept. */
  get agentCount(): number {
    return this.agents.size;
  }

  private sweepAgents(): void {
    for (const [key, a] of this.agents) {
      if (!agentIdle(a)) continue;
      a.destroy();
      this.agents.delete(key);
    }
  }

  /**
   * The pool of `ep` as discovery currently describes it: an address first seen without an
   * identity (its pod's event came after the EndpointSlice's) gets a new, mTLS pool once the
   * identity arrives; the plaintext one idles out.
   */
  private agent(ep: DiscoveredEndpoint): http.Agent {
    const key = `${ep.key}|${ep.identity ?? ""}`;
    let a = this.agents.get(key);
    if (!a) this.agents.set(key, (a = this.newAgent(ep)));
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
      identity === undefined
        ? raw
        : proxy.tls.outbound.originate(raw, identity, ["http/1.1"], ep.address);
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
    startedAt: number,
  ): Promise<HttpAttempt> {
    const backend = svc.pickBackend();
    for (let i = 1; ; i++) {
      const slot = await backend.balancer.acquire(startedAt);
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
