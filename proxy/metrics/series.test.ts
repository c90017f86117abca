import { expect } from "chai";
import { Registry, type Metric } from "prom-client";
import { CounterFamily, HistogramFamily } from "./series";

describe("metric series", () => {
  it("renders counters through a prom-client registry", async () => {
    const reg = new Registry();
    const c = new CounterFamily("request_total", "Total count of HTTP requests.");
    reg.registerMetric(c as unknown as Metric);
    const s = c.add({ direction: "inbound", authority: "web" });
    s.inc();
    s.value += 2;
    const text = await reg.metrics();
    expect(text).to.include("# TYPE request_total counter");
    expect(text).to.include('request_total{direction="inbound",authority="web"} 3');
  });

  it("renders histograms with cumulative buckets, sum and count", async () => {
    const reg = new Registry();
    const h = new HistogramFamily("response_latency_ms", "latency", [1, 10, 100]);
    reg.registerMetric(h as unknown as Metric);
    const s = h.add({ status_code: "200" });
    for (const v of [0.5, 1, 5, 50, 5000]) s.observe(v);
    const text = await reg.metrics();
    expect(text).to.include('response_latency_ms_bucket{le="1",status_code="200"} 2');
    expect(text).to.include('response_latency_ms_bucket{le="10",status_code="200"} 3');
    expect(text).to.include('response_latency_ms_bucket{le="100",status_code="200"} 4');
    expect(text).to.include('response_latency_ms_bucket{le="+Inf",status_code="200"} 5');
    expect(text).to.include('response_latency_ms_sum{status_code="200"} 5056.5');
    expect(text).to.include('response_latency_ms_count{status_code="200"} 5');
  });
});
