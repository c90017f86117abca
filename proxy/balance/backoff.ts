/** Exponential backoff with jitter (connect backoff 100 ms → 60 s, jitter 0.5 by default). */

export interface BackoffConfig {
  minMs: number;
  maxMs: number;
  /** Fraction of the delay randomised: delay × (1 − jitter/2 … 1 + jitter/2). */
  jitter: number;
}

export const CONNECT_BACKOFF: BackoffConfig = { minMs: 100, maxMs: 60_000, jitter: 0.5 };

/** The delay before attempt `failures + 1`, given `failures` consecutive failures (≥ 1). */
export function backoffDelay(
  failures: number,
  config: BackoffConfig,
  random: () => number = Math.random,
): number {
  const base = Math.min(config.maxMs, config.minMs * 2 ** Math.max(0, failures - 1));
  const factor = 1 - config.jitter / 2 + random() * config.jitter;
  return Math.min(config.maxMs, Math.max(0, base * factor));
}

/** Per-endpoint connect state: ready, or backing off until a time. */
export class EndpointBackoff {
  private failures = 0;
  private until = 0;

  constructor(private readonly config: BackoffConfig = CONNECT_BACKOFF) {}

  ready(now: number): boolean {
    return now >= this.until;
  }

  /** When the endpoint is next ready (ms timestamp). */
  readyAt(): number {
    return this.until;
  }

  failed(now: number, random?: () => number): void {
    this.failures++;
    this.until = now + backoffDelay(this.failures, this.config, random);
  }

  succeeded(): void {
    this.failures = 0;
    this.until = 0;
  }
}
