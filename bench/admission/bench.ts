// make bench → bench/admission: the injector's admission latency. Creates pods at a fixed rate
// (server-side dry run: admitted and mutated, never stored) in a namespace marked for injection,
// then reports p50/p99 from every source there is:
//   - the client: each create, end to end;
//   - the webhook itself: the operator's own histograms on the admission pods' /metrics
//     (operator/capabilities/timing.ts: Pepr's processing of each review, and the injector's
//     handler inside it; 0.5–25 ms buckets), Pepr's request log (whole ms; only at log level
//     info) and its pepr_mutate summary (empty in Pepr 1.1.4);
//   - the API server: its webhook histogram apiserver_admission_webhook_admission_duration_seconds
//     (before/after delta; buckets 5, 25, 100 ms), and its own quantiles of the whole mutating
//     step, apiserver_admission_step_admission_duration_seconds_summary (a 5 h window shared
//     with every other admitted create, read right after the load).
// Prints figures; asserts nothing.
//   node --require tsx/cjs bench/admission/bench.ts [--rate 50] [--seconds 30]
import https from "node:https";
import os from "node:os";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { kubeconfigPath, kubectl, kubectlOk, createNamespace } from "../../e2e/lib/cluster";
import {
  bucketQuantile,
  histogramDelta,
  mutateDurations,
  percentile,
  readHistogram,
  readSamples,
  readSummary,
  runShareAtOrBelow,
  type HistogramDelta,
  type Summary,
} from "./figures";

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

const RATE = Math.min(arg("rate", 50), 200);
const SECONDS = Math.min(arg("seconds", 30), 120);
const REQUEST_TIMEOUT_MS = 15_000;
const WEBHOOK = { name: "pepr-weft.pepr.dev", type: "admit", operation: "CREATE" };
const HISTOGRAM = "apiserver_admission_webhook_admission_duration_seconds";
/** The API server's quantiles of the whole mutating step (built-in plugins and webhooks). */
const STEP_SUMMARY = "apiserver_admission_step_admission_duration_seconds_summary";
const STEP = { type: "admit", operation: "CREATE", rejected: "false" };
/** The operator's own histograms (operator/capabilities/timing.ts). */
const REVIEW = "weft_admission_review_duration_seconds";
const MUTATE = "weft_injector_mutate_duration_seconds";

interface ApiServer {
  url: URL;
  agent: https.Agent;
  headers: Record<string, string>;
}

type KubeConfig = {
  "current-context"?: string;
  contexts: { name: string; context: { cluster: string; user: string } }[];
  clusters: { name: string; cluster: Record<string, string> }[];
  users: { name: string; user: Record<string, string> }[];
};

function pem(entry: Record<string, string>, key: string): Buffer | undefined {
  if (entry[`${key}-data`]) return Buffer.from(entry[`${key}-data`], "base64");
  return entry[key] ? readFileSync(entry[key]) : undefined;
}

/** The current context's server and credentials (client certificate or bearer token). */
function apiServer(): ApiServer {
  const cfg = parse(readFileSync(kubeconfigPath(), "utf8")) as KubeConfig;
  const ctx = cfg.contexts.find((c) => c.name === cfg["current-context"]) ?? cfg.contexts[0];
  const cluster = cfg.clusters.find((c) => c.name === ctx.context.cluster)!.cluster;
  const user = cfg.users.find((u) => u.name === ctx.context.user)!.user;
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: 64,
    ca: pem(cluster, "certificate-authority"),
    cert: pem(user, "client-certificate"),
    key: pem(user, "client-key"),
  });
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (user.token) headers.authorization = `Bearer ${user.token}`;
  return { url: new URL(cluster.server), agent, headers };
}

function testPod(i: number): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: `bench-${i}` },
    spec: {
      containers: [
        {
          name: "app",
          image: "docker.io/weft/testapp:1",
          ports: [{ containerPort: 8080 }],
          readinessProbe: { httpGet: { path: "/", port: 8080 } },
        },
      ],
    },
  });
}

interface CreateResult {
  ms: number;
  status: number;
  injected: boolean;
}

/** One dry-run create; resolves with its latency and whether the proxy was injected. */
function dryRunCreate(api: ApiServer, ns: string, i: number): Promise<CreateResult> {
  const started = process.hrtime.bigint();
  const elapsed = (): number => Number(process.hrtime.bigint() - started) / 1e6;
  return new Promise((resolve) => {
    const req = https.request(
      new URL(`/api/v1/namespaces/${ns}/pods?dryRun=All`, api.url),
      { method: "POST", agent: api.agent, headers: api.headers, timeout: REQUEST_TIMEOUT_MS },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () =>
          resolve({
            ms: elapsed(),
            status: res.statusCode ?? 0,
            injected: body.includes('"weft-proxy"'),
          }),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", () => resolve({ ms: elapsed(), status: 0, injected: false }));
    req.end(testPod(i));
  });
}

/** RATE creates per second for SECONDS, started on schedule whatever the earlier ones are doing. */
async function load(api: ApiServer, ns: string): Promise<CreateResult[]> {
  const total = RATE * SECONDS;
  const pending: Promise<CreateResult>[] = [];
  const started = Date.now();
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / RATE;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(dryRunCreate(api, ns, i));
  }
  return Promise.all(pending);
}

async function admissionPods(): Promise<string[]> {
  const out = await kubectlOk([
    "-n",
    "pepr-system",
    "get",
    "pods",
    "-l",
    "pepr.dev/controller=admission",
    "-o",
    "jsonpath={.items[*].metadata.name}",
  ]);
  return out.split(/\s+/).filter(Boolean);
}

/** Each admission pod's /metrics (HTTPS on 3000, through the API server's proxy). */
async function operatorMetrics(pods: string[]): Promise<string[]> {
  const raw = await Promise.all(
    pods.map((p) =>
      kubectl([
        "get",
        "--raw",
        `/api/v1/namespaces/pepr-system/pods/https:${p}:3000/proxy/metrics`,
      ]),
    ),
  );
  return raw.filter((r) => r.code === 0).map((r) => r.stdout);
}

interface Snapshot {
  webhook: HistogramDelta;
  step: Summary;
  review: HistogramDelta;
  mutate: HistogramDelta;
  pepr: Summary[];
  process: ProcessFigures;
}

/** The admission pods' processes (prom-client's default metrics, operator/pepr.ts). */
interface ProcessFigures {
  /** CPU seconds, summed over the pods. */
  cpu: number;
  gc: HistogramDelta;
  /**
   * Event-loop delay since the previous read (prom-client resets it on every read), worst pod.
   * It samples every 10 ms and the figures include that interval: an idle loop shows 10.1 ms.
   */
  lagP99: number;
  lagMax: number;
}

function processFigures(metrics: string): ProcessFigures {
  const worst = (name: string): number => Math.max(0, ...readSamples(metrics, name));
  return {
    cpu: readSamples(metrics, "process_cpu_seconds_total").reduce((a, b) => a + b, 0),
    gc: readHistogram(metrics, "nodejs_gc_duration_seconds", {}),
    lagP99: worst("nodejs_eventloop_lag_p99_seconds"),
    lagMax: worst("nodejs_eventloop_lag_max_seconds"),
  };
}

/** The API server's metrics are read first: its step summary is a sliding window. */
async function snapshot(pods: string[]): Promise<Snapshot> {
  const api = await kubectlOk(["get", "--raw", "/metrics"]);
  const ops = await operatorMetrics(pods);
  const all = ops.join("\n");
  return {
    webhook: readHistogram(api, HISTOGRAM, WEBHOOK),
    step: readSummary(api, STEP_SUMMARY, STEP),
    review: readHistogram(all, REVIEW, { kind: "Pod", operation: "CREATE" }),
    mutate: readHistogram(all, MUTATE, {}),
    pepr: ops.map((t) => readSummary(t, "pepr_mutate")),
    process: processFigures(all),
  };
}

async function webhookLogDurations(pods: string[], since: Date): Promise<number[]> {
  const logs = await Promise.all(
    pods.map((p) =>
      kubectl(["-n", "pepr-system", "logs", p, `--since-time=${since.toISOString()}`], {
        timeoutMs: 60_000,
      }),
    ),
  );
  return logs.flatMap((l) => mutateDurations(l.stdout));
}

const ms = (v: number | undefined, digits = 1): string =>
  v === undefined || Number.isNaN(v) ? "—" : v.toFixed(digits);

function row(cells: string[]): string {
  return `  ${cells[0].padEnd(50)}${cells
    .slice(1)
    .map((c) => c.padStart(10))
    .join("")}`;
}

const mean = (xs: number[]): number | undefined =>
  xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined;

interface Report {
  results: CreateResult[];
  before: Snapshot;
  after: Snapshot;
  logDurations: number[];
  /** One-minute load average before and after: other work on the host moves the tail. */
  load: [number, number];
}

function printReport(r: Report): void {
  const client = r.results.filter((x) => x.status === 201).map((x) => x.ms);
  const failed = r.results.length - client.length;
  const injected = r.results.filter((x) => x.injected).length;
  console.log(
    `admission: ${r.results.length} dry-run pod creates at ${RATE}/s for ${SECONDS} s; ` +
      `${client.length} admitted, ${injected} injected, ${failed} failed`,
  );
  const webhook = histogramDelta(r.before.webhook, r.after.webhook);
  const others = webhook.count - r.results.length;
  console.log(
    `  host load average ${r.load[0].toFixed(2)} → ${r.load[1].toFixed(2)}; ` +
      `${Math.max(0, others)} other pod admissions by this webhook during the run`,
  );
  console.log(row(["source", "samples", "p50 ms", "p99 ms", "mean ms"]));
  console.log(
    row([
      "client: POST ?dryRun=All, end to end",
      String(client.length),
      ms(percentile(client, 0.5)),
      ms(percentile(client, 0.99)),
      ms(mean(client)),
    ]),
  );
  printOwnHistograms(r);
  printProcess(r);
  printPeprFigures(r);
  console.log(histogramRow("api server: webhook admission duration (delta)", webhook));
  const under = (bound: number): string => `${webhook.buckets.get(bound) ?? 0}/${webhook.count}`;
  console.log(
    `    its buckets are coarse (5, 25, 100 ms ...): ≤5 ms ${under(0.005)}, ≤25 ms ${under(0.025)}; ` +
      `quantiles are interpolated inside them, as histogram_quantile does`,
  );
  printStepSummary(r);
}

/** p50/p99 interpolated inside the buckets, as histogram_quantile does. */
function histogramRow(label: string, h: HistogramDelta): string {
  const q = (p: number): string => ms((bucketQuantile(p, h.buckets) ?? NaN) * 1000);
  return row([
    label,
    String(h.count),
    q(0.5),
    q(0.99),
    ms(h.count ? (h.sum / h.count) * 1000 : undefined),
  ]);
}

function printOwnHistograms(r: Report): void {
  const review = histogramDelta(r.before.review, r.after.review);
  const mutate = histogramDelta(r.before.mutate, r.after.mutate);
  if (review.count === 0) {
    console.log(`  webhook: no ${REVIEW} on the admission pods (an operator without timing.ts?)`);
    return;
  }
  console.log(histogramRow("webhook: Pepr's review, before→after hook", review));
  console.log(histogramRow("webhook: the injector's mutate handler", mutate));
  const under = (bound: number): string => `${review.buckets.get(bound) ?? 0}/${review.count}`;
  console.log(
    `    review buckets 0.5–25 ms: ≤2 ms ${under(0.002)}, ≤5 ms ${under(0.005)}, ` +
      `≤10 ms ${under(0.01)}, ≤25 ms ${under(0.025)}`,
  );
}

/** prom-client's event-loop monitor samples every 10 ms (eventLoopMonitoringPrecision). */
const beyond = (lagSeconds: number): number => Math.max(0, lagSeconds * 1000 - 10);

function printProcess(r: Report): void {
  const [b, a] = [r.before.process, r.after.process];
  const reviews = r.after.review.count - r.before.review.count;
  if (reviews <= 0) return;
  const gc = histogramDelta(b.gc, a.gc);
  const over10 = gc.count - (gc.buckets.get(0.01) ?? gc.count);
  console.log(
    `    admission pods during the run: CPU ${ms(((a.cpu - b.cpu) * 1000) / reviews, 2)} ms per review; ` +
      `GC ${gc.count} pauses, ${ms(gc.sum * 1000)} ms in all, ${over10} over 10 ms; ` +
      `event-loop delay beyond its 10 ms sampling: p99 ${ms(beyond(a.lagP99))} ms, max ${ms(beyond(a.lagMax))} ms`,
  );
}

function printPeprFigures(r: Report): void {
  const d = r.logDurations;
  if (d.length > 0) {
    console.log(
      row([
        "webhook: Pepr request log (whole ms)",
        String(d.length),
        ms(percentile(d, 0.5), 0),
        ms(percentile(d, 0.99), 0),
        ms(mean(d)),
      ]),
    );
  } else {
    console.log(
      "  webhook: no Pepr request log lines (its LOG_LEVEL is above info: pepr.logLevel)",
    );
  }
  const count = sumOf(r.after.pepr).count - sumOf(r.before.pepr).count;
  if (count === 0) {
    // Pepr 1.1.4 observes admissions as pepr_Mutate, a summary it never registers.
    console.log("  webhook: Pepr's pepr_mutate summary recorded nothing (as in Pepr 1.1.4)");
    return;
  }
  const sum = sumOf(r.after.pepr).sum - sumOf(r.before.pepr).sum;
  const worst = (q: number): number =>
    Math.max(...r.after.pepr.map((s) => s.quantiles.get(q) ?? 0));
  console.log(
    row([
      "webhook: pepr_mutate summary (pod lifetime)",
      String(count),
      ms(worst(0.5)),
      ms(worst(0.99)),
      ms(sum / count),
    ]),
  );
}

/** The API server's own quantiles; its window holds every admitted create of the last 5 h. */
function printStepSummary(r: Report): void {
  const s = r.after.step;
  const during = s.count - r.before.step.count;
  const q = (p: number): number | undefined => s.quantiles.get(p);
  console.log(
    row([
      "api server: mutating step summary (window)",
      String(s.count),
      ms((q(0.5) ?? NaN) * 1000, 2),
      ms((q(0.99) ?? NaN) * 1000, 2),
      ms(s.count ? (s.sum / s.count) * 1000 : undefined, 2),
    ]),
  );
  const p99 = q(0.99);
  if (p99 === undefined || during <= 0) return;
  const share = runShareAtOrBelow(0.99, s.count, during);
  console.log(
    `    the whole mutating step (built-in plugins and webhooks) of the ${s.count} creates admitted since ` +
      `the API server started (it keeps 5 h), ${during} of them in this run; p90 ${ms((q(0.9) ?? NaN) * 1000, 2)} ms; ` +
      `so at least ${(share * 100).toFixed(1)}% of this run's creates took ≤ ${ms(p99 * 1000, 2)} ms there`,
  );
}

const sumOf = (ss: Summary[]): { count: number; sum: number } =>
  ss.reduce((a, s) => ({ count: a.count + s.count, sum: a.sum + s.sum }), { count: 0, sum: 0 });

async function main(): Promise<void> {
  const ns = await createNamespace("weft-bench-admission");
  try {
    await kubectlOk(["annotate", "ns", ns, "weft.io/inject=enabled"]);
    const api = apiServer();
    const pods = await admissionPods();
    const before = await snapshot(pods);
    const since = new Date(Date.now() - 1000);
    const loadBefore = os.loadavg()[0];
    const results = await load(api, ns);
    const loadAfter = os.loadavg()[0];
    api.agent.destroy();
    const after = await snapshot(pods);
    printReport({
      results,
      before,
      after,
      logDurations: await webhookLogDurations(pods, since),
      load: [loadBefore, loadAfter],
    });
  } finally {
    await kubectl(["delete", "namespace", ns, "--wait=false"]);
  }
}

main().catch((err: unknown) => {
  console.error(`admission bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
