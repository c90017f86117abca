import { expect } from "chai";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import type { Mesh } from "../../crds/types";
import { ProxyMetrics } from "../../proxy/metrics/metrics";
import { targetServer } from "../prometheus/main";
import { TargetSet } from "../prometheus/targets";
import {
  prometheusConfig,
  prometheusUrl,
  queryMtlsShare,
  shareFromQueryResult,
} from "./prometheus";

const PROMETHEUS = "/usr/bin/prometheus";
const PROMTOOL = "/usr/bin/promtool";

/** A running meshed pod on loopback whose proxy admin port is `adminPort`. */
function proxyPod(adminPort: number): V1Pod {
  return {
    metadata: {
      uid: "u1",
      name: "web-1",
      namespace: "shop",
      labels: { "weft.io/proxy-deployment": "web" },
    },
    spec: {
      containers: [{ name: "app" }],
      initContainers: [
        { name: "weft-proxy", ports: [{ name: "weft-admin", containerPort: adminPort }] },
      ],
    },
    status: { phase: "Running", podIP: "127.0.0.1" },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function mesh(prometheus: Record<string, unknown> = {}): Mesh {
  return { metadata: { name: "weft" }, spec: { components: { prometheus } } } as Mesh;
}

describe("prometheus", () => {
  it("is the bundled one unless the Mesh names its own or turns it off", () => {
    expect(prometheusUrl(mesh())).to.equal("http://weft-prometheus.weft-system.svc:9090");
    expect(prometheusUrl(mesh({ enabled: false, externalURL: "http://p.mon:9090/" }))).to.equal(
      "http://p.mon:9090",
    );
    expect(prometheusUrl(mesh({ enabled: false }))).to.equal(undefined);
  });

  it("reads the share from an instant query and nothing from an empty or failed one", () => {
    const answer = (v: string): unknown => ({
      status: "success",
      data: { resultType: "vector", result: [{ metric: {}, value: [1, v] }] },
    });
    expect(shareFromQueryResult(answer("0.75"))).to.equal(0.75);
    expect(shareFromQueryResult(answer("NaN"))).to.equal(undefined);
    expect(shareFromQueryResult({ status: "success", data: { result: [] } })).to.equal(undefined);
    expect(shareFromQueryResult({ status: "error", error: "bad query" })).to.equal(undefined);
    expect(shareFromQueryResult("not json")).to.equal(undefined);
  });

  it("writes a configuration promtool accepts", function () {
    if (!existsSync(PROMTOOL)) this.skip();
    const dir = mkdtempSync(join(tmpdir(), "weft-prom-"));
    const file = join(dir, "prometheus.yml");
    writeFileSync(file, prometheusConfig());
    return new Promise<void>((resolve, reject) => {
      execFile(PROMTOOL, ["check", "config", file], (err, stdout, stderr) => {
        rmSync(dir, { recursive: true, force: true });
        if (err) reject(new Error(`promtool: ${stdout}${stderr}`));
        else resolve();
      });
    });
  });

  describe("the mTLS share from a real Prometheus scraping a proxy's metrics", function () {
    this.timeout(60_000);
    let prom: ChildProcess | undefined;
    let metricsServer: http.Server | undefined;
    let sdServer: http.Server | undefined;
    let dir = "";
    let promUrl = "";
    const metrics = new ProxyMetrics();

    before(async function () {
      if (!existsSync(PROMETHEUS)) {
        console.log(`      skipped: ${PROMETHEUS} is missing (apt-get install prometheus)`);
        this.skip();
      }
      metricsServer = http.createServer((_req, res) => {
        void metrics.registry.metrics().then((text) => res.end(text));
      });
      await new Promise<void>((r) => metricsServer!.listen(0, "127.0.0.1", r));
      // The sidecar's discovery, fed one meshed pod whose admin port is the metrics server.
      const targets = new TargetSet();
      targets.apply(proxyPod((metricsServer.address() as AddressInfo).port), "ADDED");
      sdServer = targetServer(targets, () => true);
      await new Promise<void>((r) => sdServer!.listen(0, "127.0.0.1", r));
      const targetsAddr = `127.0.0.1:${(sdServer.address() as AddressInfo).port}`;
      dir = mkdtempSync(join(tmpdir(), "weft-prom-"));
      const port = 19090 + Math.floor(Math.random() * 500);
      const config = prometheusConfig({ targetsAddr, interval: "1s", selfPort: port });
      writeFileSync(join(dir, "prometheus.yml"), config);
      promUrl = `http://127.0.0.1:${port}`;
      prom = spawn(
        PROMETHEUS,
        [
          `--config.file=${join(dir, "prometheus.yml")}`,
          `--storage.tsdb.path=${join(dir, "data")}`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        { stdio: "ignore" },
      );
    });

    after(async () => {
      prom?.kill("SIGTERM");
      if (prom && prom.exitCode === null) await new Promise((r) => prom!.once("exit", r));
      for (const s of [metricsServer, sdServer]) await new Promise((r) => (s ? s.close(r) : r(0)));
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("is the share of outbound responses that went over mTLS", async () => {
      const meshed = metrics
        .http("outbound", "10.0.0.2:8080", { tls: "true", server_id: "web.shop.serviceaccount" })
        .route("web.shop.svc.cluster.local:8080");
      const plain = metrics
        .http("outbound", "10.0.0.9:80", { tls: "no_identity", no_tls_reason: "not_meshed" })
        .route("legacy.shop.svc.cluster.local:80");
      const inbound = metrics
        .http("inbound", "10.0.0.3:8080", { tls: "no_identity", no_tls_reason: "no_tls" })
        .route("web.shop.svc.cluster.local:8080");
      let share: number | undefined;
      for (let i = 0; i < 40 && share === undefined; i++) {
        // Steady traffic: 3 meshed responses for every plaintext one; inbound does not count.
        for (let k = 0; k < 30; k++) meshed.response(200, -1, "", 1);
        for (let k = 0; k < 10; k++) plain.response(200, -1, "", 1);
        for (let k = 0; k < 50; k++) inbound.response(200, -1, "", 1);
        // The proxy's own answers (a timeout here) reached no peer: they count neither way.
        for (let k = 0; k < 20; k++) plain.response(504, -1, "response timeout", 1);
        await sleep(500);
        share = await queryMtlsShare(promUrl, 1000);
      }
      expect(share, "Prometheus answered with a share").to.be.a("number");
      expect(share).to.be.closeTo(0.75, 0.02);
      // The series carry the labels discovery gave the target.
      const q = encodeURIComponent("count by (namespace, pod, deployment) (response_total)");
      const res = (await (await fetch(`${promUrl}/api/v1/query?query=${q}`)).json()) as {
        data: { result: { metric: Record<string, string> }[] };
      };
      expect(res.data.result.map((r) => r.metric)).to.deep.equal([
        { namespace: "shop", pod: "web-1", deployment: "web" },
      ]);
    });
  });
});
