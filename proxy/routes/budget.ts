/**
 * The retry budget (tower's TPS budget): over a sliding window of `ttl`, retries may use
 * `minPerSecond × ttl` plus `ratio` × the requests seen, minus the retries already made.
 * The window is kept in ten buckets, so memory is constant.
 */
import type { BudgetParams } from "./profile";

const BUCKETS = 10;

export class RetryBudget {
  private readonly deposits = new Float64Array(BUCKETS);
  private readonly withdrawals = new Float64Array(BUCKETS);
  private readonly bucketMs: number;
  private current = 0;
  private currentStart: number;

  constructor(
    readonly params: BudgetParams,
    now: number,
  ) {
    this.bucketMs = Math.max(1, params.ttlMs / BUCKETS);
    this.currentStart = now;
  }

  /** One original request: adds `ratio` to the balance. */
  deposit(now: number): void {
    this.advance(now);
    this.deposits[this.current] += 1;
  }

  /** Takes one retry from the budget; false (and nothing taken) when it is exhausted. */
  withdraw(now: number): boolean {
    if (this.balance(now) < 1) return false;
    this.withdrawals[this.current] += 1;
    return true;
  }

  /** Retries currently allowed (may be fractional). */
  balance(now: number): number {
    this.advance(now);
    let dep = 0;
    let wd = 0;
    for (let i = 0; i < BUCKETS; i++) {
      dep += this.deposits[i];
      wd += this.withdrawals[i];
    }
    const reserve = (this.params.minPerSecond * this.params.ttlMs) / 1000;
    return reserve + dep * this.params.ratio - wd;
  }

  private advance(now: number): void {
    const steps = Math.floor((now - this.currentStart) / this.bucketMs);
    if (steps <= 0) return;
    const clear = Math.min(steps, BUCKETS);
    for (let i = 0; i < clear; i++) {
      this.current = (this.current + 1) % BUCKETS;
      this.deposits[this.current] = 0;
      this.withdrawals[this.current] = 0;
    }
    this.currentStart += steps * this.bucketMs;
  }
}
