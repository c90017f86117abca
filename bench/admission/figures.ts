// Pure arithmetic for the admission benchmark: Prometheus histograms and summaries from text,
// their before/after delta, quantiles from buckets, what a shared summary says about one run,
// and the Pepr admission log's durations.

/** Cumulative bucket counts by upper bound (seconds; Infinity for +Inf), summed over series. */
export type Buckets = Map<number, number>;

export interface HistogramDelta {
  buckets: Buckets;
  count: number;
  sum: number;
}

function labelsOf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) out[m[1]] = m[2];
  return out;
}

function matches(labels: Record<string, string>, want: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => labels[k] === v);
}

/**
 * Sums `<name>_bucket`, `_count` and `_sum` over the series whose labels include `want` (several
 * pods' metrics may be concatenated: their series add up too).
 */
export function readHistogram(
  metrics: string,
  name: string,
  want: Record<string, string>,
): HistogramDelta {
  const buckets: Buckets = new Map();
  let count = 0;
  let sum = 0;
  const line = new RegExp(`^${name}_(bucket|count|sum)(?:\\{([^}]*)\\})? (\\S+)$`);
  for (const text of metrics.split("\n")) {
    const m = line.exec(text);
    if (!m) continue;
    const labels = labelsOf(m[2] ?? "");
    if (!matches(labels, want)) continue;
    const value = Number(m[3]);
    if (m[1] === "count") count += value;
    else if (m[1] === "sum") sum += value;
    else addBucket(buckets, labels.le, value);
  }
  return { buckets, count, sum };
}

function addBucket(buckets: Buckets, le: string | undefined, value: number): void {
  const bound = le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le);
  buckets.set(bound, (buckets.get(bound) ?? 0) + value);
}

export function histogramDelta(before: HistogramDelta, after: HistogramDelta): HistogramDelta {
  const buckets: Buckets = new Map();
  for (const [bound, n] of after.buckets) buckets.set(bound, n - (before.buckets.get(bound) ?? 0));
  return { buckets, count: after.count - before.count, sum: after.sum - before.sum };
}

/** As PromQL's histogram_quantile: linear within the bucket that holds the rank. */
export function bucketQuantile(q: number, buckets: Buckets): number | undefined {
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [bound, cumulative] of sorted) {
    if (cumulative >= rank) {
      if (!Number.isFinite(bound)) return lower;
      const inBucket = cumulative - below;
      return inBucket > 0 ? lower + ((bound - lower) * (rank - below)) / inBucket : bound;
    }
    lower = bound;
    below = cumulative;
  }
  return lower;
}

/** Nearest-rank percentile of raw samples. */
export function percentile(samples: number[], p: number): number | undefined {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** Durations (ms) of the mutate requests in Pepr's JSON request log (info level). */
export function mutateDurations(log: string): number[] {
  const out: number[] = [];
  for (const text of log.split("\n")) {
    if (!text.includes('"url":"/mutate/')) continue;
    const m = /"duration":"(\d+(?:\.\d+)?) ms"/.exec(text);
    if (m) out.push(Number(m[1]));
  }
  return out;
}

export interface Summary {
  /** Quantile → value; the worst over the matching series. NaN (an empty window) is left out. */
  quantiles: Map<number, number>;
  count: number;
  sum: number;
}

/**
 * A Prometheus summary: `<name>{quantile=...}`, `_sum` and `_count` of the series whose labels
 * include `want` (none: every series, as Pepr's unlabelled `pepr_mutate`). Counts and sums add up.
 */
export function readSummary(
  metrics: string,
  name: string,
  want: Record<string, string> = {},
): Summary {
  const quantiles = new Map<number, number>();
  let count = 0;
  let sum = 0;
  const line = new RegExp(`^${name}(_sum|_count)?(?:\\{([^}]*)\\})? (\\S+)$`);
  for (const text of metrics.split("\n")) {
    const m = line.exec(text);
    if (!m) continue;
    const labels = labelsOf(m[2] ?? "");
    if (!matches(labels, want)) continue;
    const value = Number(m[3]);
    if (m[1] === "_count") count += value;
    else if (m[1] === "_sum") sum += value;
    else if (labels.quantile !== undefined && !Number.isNaN(value)) {
      const q = Number(labels.quantile);
      quantiles.set(q, Math.max(quantiles.get(q) ?? value, value));
    }
  }
  return { quantiles, count, sum };
}

/**
 * A summary mixes a run's `runCount` observations with others in its window (`windowCount` in
 * all). Its q-quantile v leaves at most (1 − q)·windowCount observations above v, so at least this
 * share of the run's observations took ≤ v, whatever the others took.
 */
export function runShareAtOrBelow(q: number, windowCount: number, runCount: number): number {
  if (runCount <= 0) return 0;
  return Math.max(0, 1 - ((1 - q) * windowCount) / runCount);
}

/** The values of `<name>` (exactly: no suffix) in the series whose labels include `want`. */
export function readSamples(
  metrics: string,
  name: string,
  want: Record<string, string> = {},
): number[] {
  const line = new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`);
  const out: number[] = [];
  for (const text of metrics.split("\n")) {
    const m = line.exec(text);
    if (m && matches(labelsOf(m[1] ?? ""), want)) out.push(Number(m[2]));
  }
  return out;
}
