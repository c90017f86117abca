// make bench → bench/admission: the injector's admission latency. Creates pods at a fixed rate
// (server-side dry run: admitted and mutated, never stored) in a namespace marked for injection,
// then reports p50/p99 three ways: as the client saw each create, from the webhook itself (Pepr's
// request log, or its pepr_mutate summary when that log is off), and from the API server's
// apiserver_admission_webhook_admission_duration_seconds histogram (before/after delta).
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
  readSummary,
  type HistogramDelta,
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

async function apiServerHistogram(): Promise<HistogramDelta> {
  return readHistogram(await kubectlOk(["get", "--raw", "/metrics"]), HISTOGRAM, WEBHOOK);
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

/** Pepr's own pepr_mutate summary, per admission pod (HTTPS on 3000, through the API server). */
async function peprSummaries(pods: string[]): Promise<ReturnType<typeof readSummary>[]> {
  const raw = await Promise.all(
    pods.map((p) =>
      kubectl([
        "get",
        "--raw",
        `/api/v1/namespaces/pepr-system/pods/https:${p}:3000/proxy/metrics`,
      ]),
    ),
  );
  return raw.filter((r) => r.code === 0).map((r) => readSummary(r.stdout, "pepr_mutate"));
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
  v === undefined ? "—" : v.toFixed(digits);

function row(cells: string[]): string {
  return `  ${cells[0].padEnd(46)}${cells
    .slice(1)
    .map((c) => c.padStart(10))
    .join("")}`;
}

interface Report {
  results: CreateResult[];
  apiserver: HistogramDelta;
  logDurations: number[];
  summaries: ReturnType<typeof readSummary>[];
  summaryDelta: { count: number; sum: number };
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
  const others = r.apiserver.count - r.results.length;
  console.log(
    `  host load average ${r.load[0].toFixed(2)} → ${r.load[1].toFixed(2)}; ` +
      `${Math.max(0, others)} other pod admissions by this webhook during the run`,
  );
  console.log(row(["source", "samples", "p50 ms", "p99 ms", "mean ms"]));
  const mean = (xs: number[]): number | undefined =>
    xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined;
  console.log(
    row([
      "client: POST ?dryRun=All, end to end",
      String(client.length),
      ms(percentile(client, 0.5)),
      ms(percentile(client, 0.99)),
      ms(mean(client)),
    ]),
  );
  printWebhook(r, mean);
  const h = r.apiserver;
  const q = (p: number): string => ms((bucketQuantile(p, h.buckets) ?? NaN) * 1000);
  console.log(
    row([
      "api server: webhook admission duration (delta)",
      String(h.count),
      q(0.5),
      q(0.99),
      ms(h.count ? (h.sum / h.count) * 1000 : undefined),
    ]),
  );
  const under = (bound: number): string => `${h.buckets.get(bound) ?? 0}/${h.count}`;
  console.log(
    `  api server buckets are coarse (5, 25, 100 ms ...): ≤5 ms ${under(0.005)}, ≤25 ms ${under(0.025)}; ` +
      `quantiles are interpolated inside them, as histogram_quantile does`,
  );
}

function printWebhook(r: Report, mean: (xs: number[]) => number | undefined): void {
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
      "  webhook: no per-request log lines (Pepr's LOG_LEVEL is above info: pepr.logLevel)",
    );
  }
  const { count, sum } = r.summaryDelta;
  if (count === 0) {
    // Pepr 1.1.4 observes admissions as pepr_Mutate, a summary it never registers.
    console.log("  webhook: Pepr's pepr_mutate summary recorded nothing (as in Pepr 1.1.4)");
    return;
  }
  const worst = (q: number): number | undefined =>
    r.summaries.length ? Math.max(...r.summaries.map((s) => s.quantiles.get(q) ?? 0)) : undefined;
  console.log(
    row([
      "webhook: pepr_mutate summary (pod lifetime)",
      String(count),
      ms(worst(0.5)),
      ms(worst(0.99)),
      ms(count ? sum / count : undefined),
    ]),
  );
}

const sumOf = (ss: ReturnType<typeof readSummary>[]): { count: number; sum: number } =>
  ss.reduce((a, s) => ({ count: a.count + s.count, sum: a.sum + s.sum }), { count: 0, sum: 0 });

async function main(): Promise<void> {
  const ns = await createNamespace("weft-bench-admission");
  try {
    await kubectlOk(["annotate", "ns", ns, "weft.io/inject=enabled"]);
    const api = apiServer();
    const pods = await admissionPods();
    const before = await apiServerHistogram();
    const summariesBefore = sumOf(await peprSummaries(pods));
    const since = new Date(Date.now() - 1000);
    const loadBefore = os.loadavg()[0];
    const results = await load(api, ns);
    const loadAfter = os.loadavg()[0];
    api.agent.destroy();
    const summaries = await peprSummaries(pods);
    const after = sumOf(summaries);
    printReport({
      results,
      apiserver: histogramDelta(before, await apiServerHistogram()),
      logDurations: await webhookLogDurations(pods, since),
      summaries,
      summaryDelta: {
        count: after.count - summariesBefore.count,
        sum: after.sum - summariesBefore.sum,
      },
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
