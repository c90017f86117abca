// Upstream HTTP/1 connections, pooled per endpoint and reused while idle (keep-alive). An
// upstream connection forwards its socket events to whichever client exchange owns it, through
// handlers bound once per connection rather than per request.

import * as net from "node:net";
import { performance } from "node:perf_hooks";
import { ProxyError, errnoOf } from "../errors";
import type { Direction, ProxyMetrics, TcpConnMetrics } from "../metrics/metrics";
import { endpointKey, type Endpoint } from "../route/resolver";
import { outboundTlsLabels, type TlsSeam } from "../tls/seam";

/** The client-side exchange currently using an upstream connection. */
export interface UpstreamOwner {
  onUpstreamData(chunk: Buffer): void;
  onUpstreamEnd(): void;
  onUpstreamError(err: Error): void;
  onUpstreamDrain(): void;
}

export class Upstream {
  owner: UpstreamOwner | null = null;
  /** True once it has served a request: a failure before any response byte may be a stale reuse. */
  reused = false;
  connected = false;
  idle = false;
  /** When it last went idle (performance.now()), for the pool's idle sweep. */
  idleSince = 0;

  constructor(
    readonly socket: net.Socket,
    readonly key: string,
    private readonly pool: Http1Pool,
    connectTimeoutMs: number,
    private readonly tcp: TcpConnMetrics,
  ) {
    socket.setNoDelay(true);
    socket.setTimeout(connectTimeoutMs);
    socket.on("connect", this.onConnect);
    socket.on("secureConnect", this.onConnect);
    socket.on("data", this.onData);
    socket.on("end", this.onEnd);
    socket.on("error", this.onError);
    socket.on("close", this.onClose);
    socket.on("drain", this.onDrain);
    socket.on("timeout", this.onTimeout);
  }

  write(data: Buffer | string): boolean {
    return typeof data === "string" ? this.socket.write(data, "latin1") : this.socket.write(data);
  }

  destroy(): void {
    this.owner = null;
    this.socket.destroy();
  }

  /** Hands the raw socket over (for an upgrade tunnel); the pool forgets it. */
  detach(): net.Socket {
    const s = this.socket;
    this.owner = null;
    s.removeListener("data", this.onData);
    s.removeListener("end", this.onEnd);
    s.removeListener("drain", this.onDrain);
    s.removeListener("timeout", this.onTimeout);
    return s;
  }

  private readonly onConnect = (): void => {
    if (this.connected) return;
    this.connected = true;
    this.socket.setTimeout(0);
  };
  private readonly onData = (chunk: Buffer): void => {
    if (this.owner !== null) this.owner.onUpstreamData(chunk);
    else this.socket.destroy();
  };
  private readonly onEnd = (): void => {
    if (this.owner !== null) this.owner.onUpstreamEnd();
    else this.socket.destroy();
  };
  private readonly onError = (err: Error): void => {
    this.closeErr = err;
    const owner = this.owner;
    this.owner = null;
    if (owner !== null) owner.onUpstreamError(err);
  };
  private closeErr: Error | undefined;
  private readonly onClose = (): void => {
    this.tcp.closed(this.socket.bytesRead, this.socket.bytesWritten, errnoOf(this.closeErr));
    this.pool.forget(this);
    const owner = this.owner;
    this.owner = null;
    if (owner !== null) owner.onUpstreamError(new ProxyError("WEFT_ERR_UPSTREAM_CLOSED"));
  };
  private readonly onDrain = (): void => {
    if (this.owner !== null) this.owner.onUpstreamDrain();
  };
  private readonly onTimeout = (): void => {
    if (!this.connected) this.socket.destroy(new ProxyError("WEFT_ERR_CONNECT_TIMEOUT"));
  };
}

export interface PoolOptions {
  readonly direction: Direction;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxIdlePerEndpoint: number;
  readonly tls: TlsSeam;
  readonly metrics: ProxyMetrics;
}

export class Http1Pool {
  private readonly idleByKey = new Map<string, Upstream[]>();
  private readonly all = new Set<Upstream>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly opts: PoolOptions) {}

  /** An idle connection to `endpoint`, or a new one that is connecting. */
  acquire(endpoint: Endpoint, owner: UpstreamOwner, key = endpointKey(endpoint)): Upstream {
    const idle = this.idleByKey.get(key);
    let up: Upstream | undefined;
    while (idle !== undefined && idle.length > 0 && (up === undefined || up.socket.destroyed))
      up = idle.pop();
    if (up === undefined || up.socket.destroyed) up = this.connect(endpoint, key);
    else {
      up.idle = false;
      up.socket.resume();
    }
    up.owner = owner;
    return up;
  }

  release(up: Upstream): void {
    up.owner = null;
    up.reused = true;
    let idle = this.idleByKey.get(up.key);
    if (idle === undefined) this.idleByKey.set(up.key, (idle = []));
    if (idle.length >= this.opts.maxIdlePerEndpoint) {
      up.destroy();
      return;
    }
    up.idle = true;
    up.idleSince = performance.now();
    idle.push(up);
    // One timer per pool rather than one per idle connection: releasing stays cheap.
    this.sweeper ??= setInterval(
      () => this.sweep(),
      Math.max(100, this.opts.idleTimeoutMs / 4),
    ).unref();
  }

  /** Closes connections idle longer than the idle timeout; stops when nothing is idle. */
  sweep(now = performance.now()): void {
    const limit = now - this.opts.idleTimeoutMs;
    for (const idle of [...this.idleByKey.values()]) {
      for (const up of idle.filter((u) => u.idleSince <= limit)) up.destroy();
    }
    if (this.idleByKey.size === 0 && this.sweeper !== undefined) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  forget(up: Upstream): void {
    this.all.delete(up);
    const idle = this.idleByKey.get(up.key);
    if (idle === undefined) return;
    const i = idle.indexOf(up);
    if (i !== -1) idle.splice(i, 1);
    if (idle.length === 0) this.idleByKey.delete(up.key);
  }

  /** Closes idle connections (drain); busy ones close when their exchange ends. */
  closeIdle(): void {
    for (const idle of this.idleByKey.values()) for (const up of [...idle]) up.destroy();
  }

  /** Closes everything (end of the grace period). */
  destroyAll(): void {
    for (const up of [...this.all]) up.destroy();
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private connect(endpoint: Endpoint, key: string): Upstream {
    const o = this.opts;
    const identity = o.tls.outbound.peerIdentity(endpoint);
    const raw = net.connect({ host: endpoint.address, port: endpoint.port });
    const socket =
      identity === undefined ? raw : o.tls.outbound.originate(raw, identity, ["http/1.1"]);
    const tcp = o.metrics.tcp(o.direction, "dst", key, outboundTlsLabels(o.tls, identity), socket);
    const up = new Upstream(socket, key, this, o.connectTimeoutMs, tcp);
    this.all.add(up);
    return up;
  }
}
