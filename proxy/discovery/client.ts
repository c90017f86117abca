/**
 * The proxy's destination client: one Resolution per target (Get + GetProfile streams over
 * grpc-js), shared by every user of the target. Streams reconnect with backoff; the last known
 * state is kept while the control plane is unreachable; a resolution nobody uses for `idleMs`
 * (5 s outbound) is dropped. A connection to the destination still not established after
 * `connectTimeoutMs` is abandoned for a new one (grpc-js has no connect timeout of its own).
 */
import { EventEmitter } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { DestinationClient, type DestinationProfile, type Update } from "../../api/gen/destination";
import { backoffDelay, type BackoffConfig } from "../balance/backoff";
import { applyUpdate, PENDING, type EndpointState } from "./state";

export interface DiscoveryOptions {
  /** host:port of the destination service. */
  address: string;
  /** JSON `{"ns":..,"nodeName":..,"pod":..}`. */
  contextToken: string;
  idleMs?: number;
  backoff?: BackoffConfig;
  /** A client to use instead of one made from `address` (tests). */
  client?: DestinationClient;
  /**
   * How long the channel may stay connecting (CONNECTING or TRANSIENT_FAILURE) before it is
   * replaced by a new one, milliseconds
   * (3000). A SYN sent while the destination Service had no endpoints can be dropped by a
   * stale conntrack entry, and the kernel then retransmits it on the same socket for minutes.
   */
  connectTimeoutMs?: number;
  /** Makes the destination client (tests); the default dials `address`. */
  makeClient?: () => DestinationClient;
  /** Overrides of CHANNEL_OPTIONS (tests: shorter keepalive). */
  channelOptions?: grpc.ChannelOptions;
}

export const DISCOVERY_BACKOFF: BackoffConfig = { minMs: 100, maxMs: 10_000, jitter: 0.5 };

/**
 * The destination channel: it reconnects at most 1 s apart (grpc-js would back off to 2 min,
 * and with 10 s a lookup after an outage waited up to 10 s for the next attempt, then for its
 * own stream's backoff); keepalive pings close a connection whose peer vanished without a
 * FIN or RST, which no stream on it would otherwise notice; a failing channel resolves the
 * destination's name again after 5 s rather than grpc-js's 30 s (a Service made anew has a
 * new cluster IP). Each channel has subchannels of its own: with grpc-js's shared pool, the
 * channel that replaces a stuck one would reuse the stuck connection attempt (a SYN that a stale
 * conntrack entry swallows is retransmitted for two minutes) instead of opening a new socket.
 */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc.use_local_subchannel_pool": 1,
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1000,
  "grpc.dns_min_time_between_resolutions_ms": 5000,
  "grpc.keepalive_time_ms": 10_000,
  "grpc.keepalive_timeout_ms": 5000,
};

/**
 * Calls wait for the channel instead of failing while it reconnects: a lookup made during an
 * outage starts the moment the destination is back, rather than after its stream's backoff.
 */
function waitForReady(): grpc.Metadata {
  return new grpc.Metadata({ waitForReady: true });
}

/** One server stream that reopens itself with backoff until closed. */
class ReconnectingStream<T> {
  private call: grpc.ClientReadableStream<T> | undefined;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly open: () => grpc.ClientReadableStream<T>,
    private readonly onMessage: (message: T, first: boolean) => void,
    private readonly onDown: (err: grpc.ServiceError | undefined) => void,
    private readonly backoff: BackoffConfig,
  ) {
    this.connect();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.call?.cancel();
  }

  /** Cancels the current call; it reopens (with backoff) on whatever client `open` uses now. */
  reopen(): void {
    this.call?.cancel();
  }

  private connect(): void {
    if (this.closed) return;
    let first = true;
    const call = this.open();
    this.call = call;
    call.on("data", (m: T) => {
      this.failures = 0;
      this.onMessage(m, first);
      first = false;
    });
    let ended = false;
    const down = (err?: grpc.ServiceError): void => {
      if (ended || this.closed) return;
      ended = true;
      this.onDown(err);
      this.failures++;
      this.timer = setTimeout(() => this.connect(), backoffDelay(this.failures, this.backoff));
    };
    call.on("error", (err: grpc.ServiceError) => down(err));
    call.on("end", () => down());
  }
}

/** True once `p` settles, false after `ms` if it has not. */
function withTimeout(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([p.then(() => true), timeout]).finally(() => clearTimeout(timer));
}

export class Resolution extends EventEmitter {
  endpoints: EndpointState = PENDING;
  profile: DestinationProfile | undefined;
  /** Whether the Get stream is currently connected (the last state is kept when it is not). */
  connected = false;
  /** A lookup already waited out the first answer; later lookups do not wait again. */
  waitedOut = false;
  refs = 0;
  idleTimer: NodeJS.Timeout | undefined;
  private readonly streams: { close(): void; reopen(): void }[] = [];
  private readonly firsts = new Map<string, Promise<void>>();

  constructor(
    readonly path: string,
    client: DestinationClient | (() => DestinationClient),
    contextToken: string,
    backoff: BackoffConfig,
  ) {
    super();
    const req = { scheme: "k8s", path, contextToken };
    const current = typeof client === "function" ? client : (): DestinationClient => client;
    this.streams.push(
      new ReconnectingStream<Update>(
        () => current().get(req, waitForReady()),
        (u, first) => this.onUpdate(u, first),
        () => this.setConnected(false),
        backoff,
      ),
      new ReconnectingStream<DestinationProfile>(
        () => current().getProfile(req, waitForReady()),
        (p) => this.onProfile(p),
        () => undefined,
        backoff,
      ),
    );
  }

  /** Resolves once endpoints are known (or `timeoutMs` passed); true when known. */
  waitForEndpoints(timeoutMs: number): Promise<boolean> {
    if (this.endpoints.kind !== "pending") return Promise.resolve(true);
    return withTimeout(this.first("endpoints"), timeoutMs);
  }

  /** Resolves once a profile is known (or `timeoutMs` passed); true when known. */
  waitForProfile(timeoutMs: number): Promise<boolean> {
    if (this.profile) return Promise.resolve(true);
    return withTimeout(this.first("profile"), timeoutMs);
  }

  /** The first `event` from now on, one listener however many requests wait for it. */
  private first(event: "endpoints" | "profile"): Promise<void> {
    let p = this.firsts.get(event);
    if (!p) {
      p = new Promise<void>((resolve) => this.once(event, () => resolve()));
      this.firsts.set(event, p);
      void p.then(() => this.firsts.delete(event));
    }
    return p;
  }

  close(): void {
    for (const s of this.streams) s.close();
    this.removeAllListeners();
  }

  /** Reopens both streams (after the client was replaced). */
  reopen(): void {
    for (const s of this.streams) s.reopen();
  }

  private onUpdate(u: Update, first: boolean): void {
    this.connected = true;
    this.endpoints = applyUpdate(this.endpoints, u, first);
    this.emit("endpoints", this.endpoints);
  }

  private onProfile(p: DestinationProfile): void {
    this.profile = p;
    this.emit("profile", p);
  }

  private setConnected(up: boolean): void {
    this.connected = up;
  }
}

export interface ResolutionHandle {
  readonly resolution: Resolution;
  release(): void;
}

export class Discovery {
  private client: DestinationClient;
  private readonly resolutions = new Map<string, Resolution>();
  private readonly idleMs: number;
  private readonly backoff: BackoffConfig;
  private readonly watchdog: NodeJS.Timeout | undefined;
  private connectingSince: number | undefined;

  constructor(private readonly options: DiscoveryOptions) {
    this.client = options.client ?? this.newClient();
    this.idleMs = options.idleMs ?? 5000;
    this.backoff = options.backoff ?? DISCOVERY_BACKOFF;
    if (!options.client) {
      const timeout = options.connectTimeoutMs ?? 3000;
      this.watchdog = setInterval(() => this.checkConnecting(timeout), Math.min(1000, timeout / 4));
      this.watchdog.unref();
    }
  }

  private newClient(): DestinationClient {
    if (this.options.makeClient) return this.options.makeClient();
    return new DestinationClient(this.options.address, grpc.credentials.createInsecure(), {
      ...CHANNEL_OPTIONS,
      ...this.options.channelOptions,
    });
  }

  /**
   * Replaces a channel stuck connecting: streams reopen on a new channel (a new socket). grpc-js
   * reports a channel that failed once as TRANSIENT_FAILURE until it is READY again, even while
   * it retries, so both states count as connecting.
   */
  private checkConnecting(timeoutMs: number): void {
    const state = this.client.getChannel().getConnectivityState(false);
    const { CONNECTING, TRANSIENT_FAILURE } = grpc.connectivityState;
    if (state !== CONNECTING && state !== TRANSIENT_FAILURE) {
      this.connectingSince = undefined;
      return;
    }
    const now = performance.now();
    this.connectingSince ??= now;
    if (now - this.connectingSince < timeoutMs) return;
    this.connectingSince = undefined;
    const stuck = this.client;
    this.client = this.newClient();
    for (const r of this.resolutions.values()) r.reopen();
    stuck.close();
  }

  get size(): number {
    return this.resolutions.size;
  }

  /** The shared resolution of `path` (`<name>:<port>` or `<ip>:<port>`), held until released. */
  acquire(path: string): ResolutionHandle {
    let r = this.resolutions.get(path);
    if (!r) {
      r = new Resolution(path, () => this.client, this.options.contextToken, this.backoff);
      this.resolutions.set(path, r);
    }
    if (r.idleTimer) {
      clearTimeout(r.idleTimer);
      r.idleTimer = undefined;
    }
    r.refs++;
    const res = r;
    let released = false;
    return {
      resolution: res,
      release: () => {
        if (released) return;
        released = true;
        this.release(res);
      },
    };
  }

  close(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    for (const r of this.resolutions.values()) {
      if (r.idleTimer) clearTimeout(r.idleTimer);
      r.close();
    }
    this.resolutions.clear();
    if (!this.options.client) this.client.close();
  }

  private release(r: Resolution): void {
    r.refs--;
    if (r.refs > 0) return;
    r.idleTimer = setTimeout(() => {
      if (r.refs > 0 || this.resolutions.get(r.path) !== r) return;
      this.resolutions.delete(r.path);
      r.close();
    }, this.idleMs);
    r.idleTimer.unref();
  }
}
