/**
 * Peak-EWMA load estimate of one endpoint (as in linkerd2-proxy / tower): the RTT estimate jumps
 * up to any slower observation at once and decays towards faster ones; between observations it
 * decays towards zero so an idle slow endpoint is tried again. Load = RTT × (pending + 1).
 */

export interface PeakEwmaConfig {
  /** RTT assumed before the first observation, milliseconds (30). */
  defaultRttMs: number;
  /** Decay time constant, milliseconds (10 000). */
  decayMs: number;
}

export const DEFAULT_PEAK_EWMA: PeakEwmaConfig = { defaultRttMs: 30, decayMs: 10_000 };

export class PeakEwma {
  private rttMs: number;
  private stampMs: number;
  /** Requests (or connections) in flight. */
  pending = 0;

  constructor(
    now: number,
    private readonly config: PeakEwmaConfig = DEFAULT_PEAK_EWMA,
  ) {
    this.rttMs = config.defaultRttMs;
    this.stampMs = now;
  }

  /** The RTT estimate decayed to `now`. */
  rtt(now: number): number {
    const elapsed = Math.max(0, now - this.stampMs);
    return this.rttMs * Math.exp(-elapsed / this.config.decayMs);
  }

  /** Records one observed RTT. */
  observe(rttMs: number, now: number): void {
    const current = this.rtt(now);
    if (rttMs > current) {
      this.rttMs = rttMs;
    } else {
      const elapsed = Math.max(0, now - this.stampMs);
      const w = Math.exp(-elapsed / this.config.decayMs);
      this.rttMs = current * w + rttMs * (1 - w);
    }
    this.stampMs = now;
  }

  load(now: number): number {
    return this.rtt(now) * (this.pending + 1);
  }
}
