import { expect } from "chai";
import {
  bucketQuantile,
  histogramDelta,
  mutateDurations,
  percentile,
  readHistogram,
  readSamples,
  readSummary,
  runShareAtOrBelow,
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

  it("reads an unlabelled histogram, added up over several pods' metrics", () => {
    const pod = (n: number): string =>
      [
        `weft_injector_mutate_duration_seconds_bucket{le="0.001"} ${n}`,
        `weft_injector_mutate_duration_seconds_bucket{le="+Inf"} ${2 * n}`,
        `weft_injector_mutate_duration_seconds_sum ${n / 100}`,
        `weft_injector_mutate_duration_seconds_count ${2 * n}`,
      ].join("\n");
    const h = readHistogram(`${pod(3)}\n${pod(5)}`, "weft_injector_mutate_duration_seconds", {});
    expect(h.buckets.get(0.001)).to.equal(8);
    expect(h).to.include({ count: 16, sum: 0.08 });
  });

  it("reads an unlabelled summary", () => {
    const s = readSummary(
      'pepr_mutate{quantile="0.5"} 2.5\npepr_mutate{quantile="0.99"} 8\npepr_mutate_sum 40\npepr_mutate_count 10\npepr_mutate_timeouts 3',
      "pepr_mutate",
    );
    expect(s.quantiles.get(0.99)).to.equal(8);
    expect(s).to.include({ count: 10, sum: 40 });
  });

  // As kube-apiserver v1.33 serves it: one series per type/operation/rejected, a 5 h window.
  const STEP = "apiserver_admission_step_admission_duration_seconds_summary";
  const step = (labels: string, q: string, v: string): string =>
    `${STEP}{${labels},quantile="${q}"} ${v}`;
  const apiserver = [
    `# HELP ${STEP} [ALPHA] Admission sub-step latency summary in seconds`,
    `# TYPE ${STEP} summary`,
    step('operation="CREATE",rejected="false",type="admit"', "0.5", "0.000912"),
    step('operation="CREATE",rejected="false",type="admit"', "0.9", "0.002405"),
    step('operation="CREATE",rejected="false",type="admit"', "0.99", "0.0071"),
    `${STEP}_sum{operation="CREATE",rejected="false",type="admit"} 3.25`,
    `${STEP}_count{operation="CREATE",rejected="false",type="admit"} 2022`,
    step('operation="CREATE",rejected="false",type="validate"', "0.99", "0.1"),
    `${STEP}_count{operation="CREATE",rejected="false",type="validate"} 2022`,
    step('operation="CREATE",rejected="true",type="admit"', "0.99", "0.05"),
    step('operation="UPDATE",rejected="false",type="admit"', "0.99", "NaN"),
    `${STEP}_count{operation="UPDATE",rejected="false",type="admit"} 0`,
  ].join("\n");

  it("reads the API server's mutating-step summary for admitted creates", () => {
    const s = readSummary(apiserver, STEP, {
      type: "admit",
      operation: "CREATE",
      rejected: "false",
    });
    expect([...s.quantiles]).to.deep.equal([
      [0.5, 0.000912],
      [0.9, 0.002405],
      [0.99, 0.0071],
    ]);
    expect(s).to.include({ count: 2022, sum: 3.25 });
    const empty = readSummary(apiserver, STEP, { type: "admit", operation: "UPDATE" });
    expect(empty.quantiles.size, "NaN: nothing in the window").to.equal(0);
    expect(empty.count).to.equal(0);
  });

  it("bounds a run's share under a quantile of a summary it shares with other requests", () => {
    // 1500 of the window's 2000 observations are the run's: the 20 above p99 could all be its own.
    expect(runShareAtOrBelow(0.99, 2000, 1500)).to.be.closeTo(1 - 20 / 1500, 1e-12);
    expect(runShareAtOrBelow(0.99, 1500, 1500)).to.be.closeTo(0.99, 1e-12);
    expect(runShareAtOrBelow(0.5, 4000, 1500)).to.equal(0);
    expect(runShareAtOrBelow(0.99, 10, 0)).to.equal(0);
  });

  it("reads plain samples of one name across pods, not its longer namesakes", () => {
    const text = [
      "process_cpu_seconds_total 1.5",
      "process_cpu_seconds_total_other 9",
      'nodejs_eventloop_lag_max_seconds{pod="a"} 0.012',
      "process_cpu_seconds_total 2.25",
    ].join("\n");
    expect(readSamples(text, "process_cpu_seconds_total")).to.deep.equal([1.5, 2.25]);
    expect(readSamples(text, "nodejs_eventloop_lag_max_seconds", { pod: "a" })).to.deep.equal([
      0.012,
    ]);
    expect(readSamples(text, "nodejs_eventloop_lag_max_seconds", { pod: "b" })).to.deep.equal([]);
  });
});
