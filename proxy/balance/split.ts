/** Traffic split by `dstOverrides`: each backend gets its weight's share (10000 = 100 %). */

export interface Weighted<T> {
  value: T;
  weight: number;
}

export class WeightedSplit<T> {
  private readonly cumulative: number[] = [];
  private readonly total: number;

  constructor(
    private readonly backends: readonly Weighted<T>[],
    private readonly random: () => number = Math.random,
  ) {
    let sum = 0;
    for (const b of backends) {
      sum += Math.max(0, b.weight);
      this.cumulative.push(sum);
    }
    this.total = sum;
  }

  get size(): number {
    return this.backends.length;
  }

  /** A backend chosen in proportion to its weight; undefined when every weight is zero. */
  pick(): T | undefined {
    if (this.total <= 0) return undefined;
    const r = this.random() * this.total;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (r < this.cumulative[mid]) hi = mid;
      else lo = mid + 1;
    }
    return this.backends[lo].value;
  }
}
