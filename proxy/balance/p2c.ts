/**
 * Power-of-two-choices over peak-EWMA: pick two ready endpoints at random and send to the one
 * with the lower load. Endpoints carry their own connect backoff; when none is ready the caller
 * waits (bounded by the failfast timeout) for one to become ready.
 */
import { CONNECT_BACKOFF, EndpointBackoff, type BackoffConfig } from "./backoff";
import { FailFastError, QueueFullError } from "./errors";
import { DEFAULT_PEAK_EWMA, PeakEwma, type PeakEwmaConfig } from "./ewma";

export interface BalancerOptions<E = never> {
  ewma?: PeakEwmaConfig;
  backoff?: BackoffConfig;
  /** How long a request waits for a ready endpoint before failing fast, ms (3000 outbound). */
  failfastMs?: number;
  /** Requests that may wait for a ready endpoint at once; more are refused at once (10 000). */
  queueCapacity?: number;
  random?: () => number;
  now?: () => number;
  /** An endpoint's weight (the destination's, 10000 by default); its load is divided by it. */
  weight?: (endpoint: E) => number;
}

/**
 * The load P2C compares: the estimate divided by the endpoint's weight (as linkerd2-proxy
 * does), so an endpoint of twice the weight takes about twice the requests. A weight of 0 or
 * less counts as 1, the least.
 */
export function weightedLoad(load: number, weight: number): number {
  return load / Math.max(1, weight);
}

/** Waiting requests per balancer (linkerd2-proxy's outbound HTTP queue capacity). */
export const DEFAULT_QUEUE_CAPACITY = 10_000;

/** How much longer a request that arrived at `since` may wait for a ready endpoint, ms. */
export function failfastWait(failfastMs: number, since: number, now: number): number {
  return Math.max(0, failfastMs - Math.max(0, now - since));
}

export class Slot<E> {
  readonly ewma: PeakEwma;
  readonly backoff: EndpointBackoff;
  removed = false;
  /** Relative weight; only the ratio between endpoints matters. */
  weight = 1;

  constructor(
    readonly key: string,
    public endpoint: E,
    now: number,
    ewma: PeakEwmaConfig,
    backoff: BackoffConfig,
  ) {
    this.ewma = new PeakEwma(now, ewma);
    this.backoff = new EndpointBackoff(backoff);
  }
}

/** An in-flight request (or open connection) on a slot; `end` records its latency once. */
export interface InFlight<E> {
  readonly slot: Slot<E>;
  end(): void;
}

interface Waiter<E> {
  resolve(slot: Slot<E>): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class P2cBalancer<E> {
  private slots: Slot<E>[] = [];
  private readonly byKey = new Map<string, Slot<E>>();
  private readonly waiters = new Set<Waiter<E>>();
  private wakeTimer: NodeJS.Timeout | undefined;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly failfastMs: number;

  constructor(
    readonly name: string,
    private readonly options: BalancerOptions<E> = {},
  ) {
    this.random = options.random ?? Math.random;
    this.now = options.now ?? (() => performance.now());
    this.failfastMs = options.failfastMs ?? 3000;
  }

  get size(): number {
    return this.slots.length;
  }

  endpoints(): Slot<E>[] {
    return this.slots;
  }

  /** Replaces the endpoint set; known keys keep their load estimate and backoff. */
  update(endpoints: Iterable<[string, E]>): void {
    const now = this.now();
    const next: Slot<E>[] = [];
    const seen = new Set<string>();
    for (const [key, endpoint] of endpoints) {
      if (seen.has(key)) continue;
      seen.add(key);
      next.push(this.slotFor(key, endpoint, now));
    }
    for (const [key, slot] of this.byKey) if (!seen.has(key)) slot.removed = true;
    this.byKey.clear();
    for (const s of next) this.byKey.set(s.key, s);
    this.slots = next;
    this.wake();
  }

  /** The slot of `key` (kept across updates, or new) holding `endpoint` and its weight. */
  private slotFor(key: string, endpoint: E, now: number): Slot<E> {
    let slot = this.byKey.get(key);
    if (slot) slot.endpoint = endpoint;
    else
      slot = new Slot(
        key,
        endpoint,
        now,
        this.options.ewma ?? DEFAULT_PEAK_EWMA,
        this.options.backoff ?? CONNECT_BACKOFF,
      );
    slot.weight = this.options.weight?.(endpoint) ?? 1;
    return slot;
  }

  /** P2C among ready endpoints; undefined when none is ready. */
  pick(): Slot<E> | undefined {
    const now = this.now();
    const ready = this.readySlots(now);
    if (ready.length <= 1) return ready[0];
    const i = Math.floor(this.random() * ready.length);
    let j = Math.floor(this.random() * (ready.length - 1));
    if (j >= i) j++;
    const a = ready[i];
    const b = ready[j];
    return weightedLoad(a.ewma.load(now), a.weight) <= weightedLoad(b.ewma.load(now), b.weight)
      ? a
      : b;
  }

  /**
   * A ready endpoint, waiting for one up to the failfast timeout counted from `since` (when the
   * request arrived, in this balancer's clock; default now), so time a request already spent
   * waiting for discovery counts too.
   */
  acquire(since?: number): Promise<Slot<E>> {
    const slot = this.pick();
    if (slot) return Promise.resolve(slot);
    const wait = failfastWait(this.failfastMs, since ?? this.now(), this.now());
    const capacity = this.options.queueCapacity ?? DEFAULT_QUEUE_CAPACITY;
    if (this.waiters.size >= capacity)
      return Promise.reject(new QueueFullError(this.name, capacity));
    return new Promise((resolve, reject) => {
      const waiter: Waiter<E> = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new FailFastError(this.name, this.failfastMs));
        }, wait),
      };
      this.waiters.add(waiter);
      this.scheduleWake();
    });
  }

  /** Marks a request (or connection) in flight on `slot`. */
  begin(slot: Slot<E>): InFlight<E> {
    const started = this.now();
    slot.ewma.pending++;
    let ended = false;
    return {
      slot,
      end: () => {
        if (ended) return;
        ended = true;
        slot.ewma.pending--;
        const now = this.now();
        slot.ewma.observe(now - started, now);
      },
    };
  }

  connectFailed(slot: Slot<E>): void {
    slot.backoff.failed(this.now(), this.random);
    this.scheduleWake();
  }

  connected(slot: Slot<E>): void {
    slot.backoff.succeeded();
  }

  /** Rejects every waiter (the balancer is being dropped). */
  close(err: Error): void {
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiters.clear();
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
  }

  private readySlots(now: number): Slot<E>[] {
    let notReady = 0;
    for (const s of this.slots) if (!s.backoff.ready(now)) notReady++;
    return notReady === 0 ? this.slots : this.slots.filter((s) => s.backoff.ready(now));
  }

  private wake(): void {
    for (const w of [...this.waiters]) {
      const slot = this.pick();
      if (!slot) break;
      clearTimeout(w.timer);
      this.waiters.delete(w);
      w.resolve(slot);
    }
    this.scheduleWake();
  }

  /** While requests wait and endpoints back off, wake when the earliest becomes ready. */
  private scheduleWake(): void {
    if (this.wakeTimer || this.waiters.size === 0 || this.slots.length === 0) return;
    const now = this.now();
    const at = Math.min(...this.slots.map((s) => s.backoff.readyAt()));
    this.wakeTimer = setTimeout(
      () => {
        this.wakeTimer = undefined;
        this.wake();
      },
      Math.max(1, at - now),
    );
  }
}
