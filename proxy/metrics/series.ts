// Per-request metric families kept as plain numbers. A request only adds to a field of an object
// it already holds; label sets are formatted when Prometheus scrapes, through prom-client's
// registry (these families implement the shape its registry reads: name, help, type, get()).

export type Labels = Readonly<Record<string, string>>;

interface Value {
  readonly labels: Labels;
  readonly value: number;
  readonly metricName?: string;
}

interface Collected {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "histogram";
  readonly values: Value[];
  readonly aggregator: "sum";
}

export class CounterSeries {
  value = 0;
  constructor(readonly labels: Labels) {}

  inc(): void {
    this.value++;
  }
}

export class CounterFamily {
  readonly type = "counter";
  private readonly all: CounterSeries[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  /** A new series; callers keep it and increment it directly. */
  add(labels: Labels): CounterSeries {
    const s = new CounterSeries(labels);
    this.all.push(s);
    return s;
  }

  get(): Promise<Collected> {
    const values = this.all.map((s) => ({ labels: s.labels, value: s.value }));
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: "counter",
      values,
      aggregator: "sum",
    });
  }
}

export class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }
}

export class HistogramFamily {
  readonly type = "histogram";
  private readonly all: HistogramSeries[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {}

  add(labels: Labels): HistogramSeries {
    const s = new HistogramSeries(labels, this.bounds);
    this.all.push(s);
    return s;
  }

  get(): Promise<Collected> {
    const values: Value[] = [];
    for (const s of this.all) this.collect(s, values);
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: "histogram",
      values,
      aggregator: "sum",
    });
  }

  private collect(s: HistogramSeries, out: Value[]): void {
    let cumulative = 0;
    const bucket = `${this.name}_bucket`;
    for (let i = 0; i <= this.bounds.length; i++) {
      cumulative += s.counts[i];
      const le = i < this.bounds.length ? String(this.bounds[i]) : "+Inf";
      out.push({ labels: { le, ...s.labels }, value: cumulative, metricName: bucket });
    }
    out.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
    out.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
  }
}
