// Retry with backoff: Pepr's queue logs and drops a failed reconcile, so the reconciler schedules
// its own retries (exponential with jitter) and a periodic resync while the mesh settles.

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** 0..1: the delay is scaled by a factor in [1 - jitter, 1]. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 60000, jitter: 0.2 };

/** Delay before retry number `attempt` (1-based). */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  random = Math.random,
): number {
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (1 - policy.jitter * random()));
}

export type Timer = (fn: () => void, ms: number) => { cancel(): void };

export const realTimer: Timer = (fn, ms) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return { cancel: (): void => clearTimeout(t) };
};

/**
 * Runs `work(key)` at most once at a time per key; a failure reschedules it with backoff, a success
 * resets the attempts and reschedules it after `resyncMs(result)` (or not, when undefined).
 */
export class Requeue<R> {
  private readonly attempts = new Map<string, number>();
  private readonly timers = new Map<string, { cancel(): void }>();
  private readonly running = new Set<string>();
  private readonly again = new Set<string>();

  constructor(
    private readonly work: (key: string) => Promise<R>,
    private readonly resyncMs: (result: R) => number | undefined,
    private readonly onError: (key: string, err: unknown, retryInMs: number) => void,
    private readonly timer: Timer = realTimer,
    private readonly policy: BackoffPolicy = DEFAULT_BACKOFF,
  ) {}

  /** Runs now (or right after the current run of the same key). */
  async trigger(key: string): Promise<void> {
    if (this.running.has(key)) {
      this.again.add(key);
      return;
    }
    this.timers.get(key)?.cancel();
    this.timers.delete(key);
    this.running.add(key);
    try {
      await this.runOnce(key);
    } finally {
      this.running.delete(key);
    }
    if (this.again.delete(key)) await this.trigger(key);
  }

  /** Stops retrying and resyncing a key (e.g. the Mesh was deleted). */
  forget(key: string): void {
    this.timers.get(key)?.cancel();
    this.timers.delete(key);
    this.attempts.delete(key);
  }

  attemptsOf(key: string): number {
    return this.attempts.get(key) ?? 0;
  }

  private async runOnce(key: string): Promise<void> {
    try {
      const result = await this.work(key);
      this.attempts.delete(key);
      const ms = this.resyncMs(result);
      if (ms !== undefined) this.schedule(key, ms);
    } catch (err) {
      const attempt = (this.attempts.get(key) ?? 0) + 1;
      this.attempts.set(key, attempt);
      const ms = backoffDelay(attempt, this.policy);
      this.onError(key, err, ms);
      this.schedule(key, ms);
    }
  }

  private schedule(key: string, ms: number): void {
    this.timers.get(key)?.cancel();
    this.timers.set(
      key,
      this.timer(() => void this.trigger(key), ms),
    );
  }
}
