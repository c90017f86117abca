import { expect } from "chai";
import {
  bucketQuantile,
  histogramDelta,
  mutateDurations,
  percentile,
  readHistogram,
  readSummary,
} from "./figures";

const NAME = "apiserver_admission_webhook_admission_duration_seconds";
const series = (rejected: string, le: string, n: number): string =>
  `${NAME}_bucket{name="pepr-weft.pepr.dev",operation="CREATE",rejected="${rejected}",type="admit",le="${le}"} ${n}`;

function metrics(scale: number): string {
  return [
    `# HELP ${NAME} x`,
    series("false", "0.005", 10 * scale),
    series("false", "0.025", 90 * scale),
    series("false", "+Inf", 100 * scale),
    series("true", "0.005", 0),
    series("true", "0.025", 0),
    series("true", "+Inf", 0),
    `${NAME}_bucket{name="other",operation="CREATE",rejected="false",type="admit",le="0.005"} 999`,
    `${NAME}_count{name="pepr-weft.pepr.dev",operation="CREATE",rejected="false",type="admit"} ${100 * scale}`,
    `${NAME}_sum{name="pepr-weft.pepr.dev",operation="CREATE",rejected="false",type="admit"} ${1.5 * scale}`,
  ].join("\n");
}

describe("admission benchmark figures", () => {
  const want = { name: "pepr-weft.pepr.dev", type: "admit", operation: "CREATE" };

  it("reads one webhook's histogram, summing over the rejected label", () => {
    const h = readHistogram(metrics(1), NAME, want);
    expect([...h.buckets]).to.deep.equal([
      [0.005, 10],
      [0.025, 90],
      [Number.POSITIVE_INFINITY, 100],
    ]);
    expect(h).to.include({ count: 100, sum: 1.5 });
  });

  it("subtracts before from after and interpolates quantiles inside buckets", () => {
    const d = histogramDelta(
      readHistogram(metrics(1), NAME, want),
      readHistogram(metrics(3), NAME, want),
    );
    expect(d.count).to.equal(200);
    expect(d.buckets.get(0.025)).to.equal(180);
    // rank 100 of 200 falls in (5 ms, 25 ms], 80 of its 160 samples in.
    expect(bucketQuantile(0.5, d.buckets)).to.be.closeTo(0.005 + (0.02 * 80) / 160, 1e-9);
    // rank 198 is past the last finite bucket: the answer is its bound, as PromQL does.
    expect(bucketQuantile(0.99, d.buckets)).to.equal(0.025);
    expect(bucketQuantile(0.5, new Map())).to.equal(undefined);
  });

  it("takes nearest-rank percentiles of samples", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 0.5)).to.equal(50);
    expect(percentile(xs, 0.99)).to.equal(99);
    expect(percentile([], 0.5)).to.equal(undefined);
  });

  it("picks the mutate durations out of Pepr's request log", () => {
    const log = [
      '{"level":30,"method":"POST","url":"/mutate/abc?timeout=10s","status":200,"duration":"3 ms"}',
      '{"level":30,"method":"POST","url":"/validate/abc?timeout=10s","status":200,"duration":"9 ms"}',
      '{"level":30,"msg":"Incoming request"}',
      '{"level":30,"method":"POST","url":"/mutate/abc?timeout=10s","status":200,"duration":"12 ms"}',
    ].join("\n");
    expect(mutateDurations(log)).to.deep.equal([3, 12]);
  });

  it("reads an unlabelled summary", () => {
    const s = readSummary(
      'pepr_mutate{quantile="0.5"} 2.5\npepr_mutate{quantile="0.99"} 8\npepr_mutate_sum 40\npepr_mutate_count 10',
      "pepr_mutate",
    );
    expect(s.quantiles.get(0.99)).to.equal(8);
    expect(s).to.include({ count: 10, sum: 40 });
  });
});
