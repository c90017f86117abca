// Upstream HTTP/1 connections, pooled per endpoint and reused while idle (keep-alive). An
// upstream connection forwards its socket events to whichever client exchange owns it, through
// handlers bound once per connection rather than per request. At most a few connections per
// endpoint are being opened at once: in a burst of new clients, requests beyond that wait for the
// first connection that is released or opened, rather than each starting a connect (and, to a
// meshed peer, a TLS handshake) that makes the burst slower for everyone.

import * as net from "node:net";
import * as tls from "node:tls";
import { performance } from "node:perf_hooks";
import { ProxyError, errnoOf } from "../errors";
import type { Direction, ProxyMetrics, TcpConnMetrics } from "../metrics/metrics";
import { endpointKey, type Endpoint } from "../route/resolver";
import { connectWithSlabReads, readsReleased } from "../tcp/reads";
import { outboundTlsLabels, type TlsSeam } from "../tls/seam";

/** The client-side exchange currently using an upstream connection. */
export interface UpstreamOwner {
  /**
   * True when neither `chunk` nor any earlier one is held any longer: nothing kept, and all that
   * was written from them already handed to the kernel. The connection may then read into the
   * same memory again.
   */
  onUpstreamData(chunk: Buffer): boolean;
  onUpstreamEnd(): void;
  onUpstreamError(err: Error): void;
  onUpstreamDrain(): void;
  /** A connection for a request that had to wait (acquire returned undefined). */
  onUpstreamReady(up: Upstream): void;
}

export class Upstream {
  owner: UpstreamOwner | null = null;
  /** True once it has served a request: a failure before any response byte may be a stale reuse. */
  reused = false;
  connected = false;
  /** Usable: connected, and for TLS, handshaken; until then it holds one of the connect slots. */
  ready = false;
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
    socket.once(socket instanceof tls.TLSSocket ? "secureConnect" : "connect", this.onReady);
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
  private readonly onReady = (): void => {
    this.ready = true;
    this.pool.opened(this);
  };
  private readonly onData = (chunk: Buffer): void => {
    if (this.owner === null) this.socket.destroy();
    else if (this.owner.onUpstreamData(chunk)) readsReleased(this.socket);
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
  /** Connections being opened (connect, TLS handshake) to one endpoint at a time; more wait. */
  readonly maxConnectingPerEndpoint: number;
  readonly tls: TlsSeam;
  readonly metrics: ProxyMetrics;
}

interface Waiter {
  readonly owner: UpstreamOwner;
  readonly endpoint: Endpoint;
}

export class Http1Pool {
  private readonly idleByKey = new Map<string, Upstream[]>();
  private readonly all = new Set<Upstream>();
  /** Per endpoint: connections not yet ready, and the requests waiting for a connection. */
  private readonly connecting = new Map<string, number>();
  private readonly waiting = new Map<string, Waiter[]>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly opts: PoolOptions) {}

  /**
   * An idle connection to `endpoint`, or a new one that is connecting; undefined when enough are
   * already connecting: then `owner.onUpstreamReady` gets the next one released or opened.
   */
  acquire(
    endpoint: Endpoint,
    owner: UpstreamOwner,
    key = endpointKey(endpoint),
  ): Upstream | undefined {
    const idle = this.idleByKey.get(key);
    let up: Upstream | undefined;
    while (idle !== undefined && idle.length > 0 && (up === undefined || up.socket.destroyed))
      up = idle.pop();
    if (up !== undefined && !up.socket.destroyed) {
      up.idle = false;
      up.socket.resume();
    } else if ((this.connecting.get(key) ?? 0) < this.opts.maxConnectingPerEndpoint) {
      up = this.connect(endpoint, key);
    } else {
      this.waitFor(key, { owner, endpoint });
      return undefined;
    }
    up.owner = owner;
    return up;
  }

  /** A waiting request gave up (its client went away). */
  cancel(owner: UpstreamOwner, key: string): void {
    const q = this.waiting.get(key);
    const i = q === undefined ? -1 : q.findIndex((w) => w.owner === owner);
    if (q === undefined || i === -1) return;
    q.splice(i, 1);
    if (q.length === 0) this.waiting.delete(key);
  }

  private waitFor(key: string, w: Waiter): void {
    const q = this.waiting.get(key);
    if (q === undefined) this.waiting.set(key, [w]);
    else q.push(w);
  }

  private nextWaiter(key: string): Waiter | undefined {
    const q = this.waiting.get(key);
    const w = q?.shift();
    if (q !== undefined && q.length === 0) this.waiting.delete(key);
    return w;
  }

  /** A connection became ready (or failed before): its slot goes to the next waiter, if any. */
  opened(up: Upstream): void {
    const left = (this.connecting.get(up.key) ?? 1) - 1;
    // Endpoints come and go: a key with nothing connecting is forgotten.
    if (left > 0) this.connecting.set(up.key, left);
    else this.connecting.delete(up.key);
    const w = this.nextWaiter(up.key);
    if (w === undefined) return;
    const next = this.connect(w.endpoint, up.key);
    next.owner = w.owner;
    w.owner.onUpstreamReady(next);
  }

  release(up: Upstream): void {
    up.owner = null;
    up.reused = true;
    // A request waiting for this endpoint takes it at once.
    const w = this.nextWaiter(up.key);
    if (w !== undefined) {
      up.owner = w.owner;
      w.owner.onUpstreamReady(up);
      return;
    }
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
    // Closed before it was ready: it no longer holds a connect slot.
    if (!up.ready) {
      up.ready = true;
      this.opened(up);
    }
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
    const raw =
      identity === undefined
        ? connectWithSlabReads(endpoint.address, endpoint.port)
        : net.connect({ host: endpoint.address, port: endpoint.port });
    const socket =
      identity === undefined
        ? raw
        : o.tls.outbound.originate(raw, identity, ["http/1.1"], endpoint.address);
    const tcp = o.metrics.tcp(o.direction, "dst", key, outboundTlsLabels(o.tls, identity), socket);
    const up = new Upstream(socket, key, this, o.connectTimeoutMs, tcp);
    this.all.add(up);
    this.connecting.set(key, (this.connecting.get(key) ?? 0) + 1);
    return up;
  }
}
