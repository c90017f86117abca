import { expect } from "chai";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import {
  event,
  profileObject,
  serviceObject,
  sliceObject,
} from "../../operator/destination/fixtures";
import {
  DEFAULT_OPTIONS,
  startDestination,
  type RunningDestination,
} from "../../operator/destination/main";
import { FeedWatchSource } from "../../operator/destination/watch";
import { Discovery } from "../discovery/client";
import { OutboundHttp } from "./http";
import { RouteMetricFamilies } from "./metrics";

interface Backend {
  id: string;
  port: number;
  delayMs: number;
  server: http.Server;
}

async function backend(id: string, delayMs = 2): Promise<Backend> {
  const b: Backend = { id, port: 0, delayMs, server: http.createServer() };
  b.server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.resume();
    setTimeout(() => res.writeHead(200, { "x-backend": id }).end(id), b.delayMs);
  });
  await new Promise<void>((r) => b.server.listen(0, "127.0.0.1", r));
  b.port = (b.server.address() as AddressInfo).port;
  return b;
}

/** A Service whose endpoints are loopback backends (one slice per backend, each with its own port). */
function publish(
  feed: FeedWatchSource,
  name: string,
  backends: Backend[],
  phase: "ADDED" | "MODIFIED" = "ADDED",
): void {
  feed.push(event("Service", serviceObject("shop", name, [{ name: "http", port: 80 }]), phase));
  for (const b of backends) {
    feed.push(
      event(
        "EndpointSlice",
        sliceObject(
          "shop",
          `${name}-${b.id}`,
          name,
          [{ name: "http", port: b.port }],
          [{ ip: "127.0.0.1" }],
        ),
        phase,
      ),
    );
  }
}

function get(
  port: number,
  host: string,
  path = "/",
): Promise<{ status: number; backend: string; error: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, headers: { host }, agent: false },
      (res) => {
        res.resume();
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            backend: String(res.headers["x-backend"] ?? ""),
            error: String(res.headers["l5d-proxy-error"] ?? ""),
            ms: performance.now() - t0,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

async function load(port: number, host: string, total: number, concurrency: number, path = "/") {
  const results: Awaited<ReturnType<typeof get>>[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next++;
      results.push(await get(port, host, path));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

describe("outbound HTTP: discovery + routes + P2C (loopback)", function () {
  this.timeout(30000);
  let feed: FeedWatchSource;
  let dest: RunningDestination;
  let discovery: Discovery;
  let outbound: OutboundHttp;
  let front: http.Server;
  let registry: Registry;
  let frontPort: number;
  const backends: Backend[] = [];
  const HOST = "web.shop.svc.cluster.local";

  beforeEach(async () => {
    feed = new FeedWatchSource();
    dest = await startDestination({ ...DEFAULT_OPTIONS, addr: "127.0.0.1:0" }, feed);
    discovery = new Discovery({ address: `127.0.0.1:${dest.port}`, contextToken: '{"ns":"shop"}' });
    registry = new Registry();
    outbound = new OutboundHttp({
      discovery,
      metrics: new RouteMetricFamilies(registry),
      balancer: { failfastMs: 300 },
    });
    front = http.createServer(
      (req, res) => void outbound.handle(req, res, { address: "127.0.0.1", port: 80 }),
    );
    await new Promise<void>((r) => front.listen(0, "127.0.0.1", r));
    frontPort = (front.address() as AddressInfo).port;
  });

  afterEach(async () => {
    outbound.close();
    discovery.close();
    front.close();
    for (const b of backends.splice(0)) {
      b.server.closeAllConnections();
      b.server.close();
    }
    await dest.stop();
  });

  it("shifts traffic away from a slow endpoint", async () => {
    const bs = await Promise.all([backend("a"), backend("b"), backend("slow", 150)]);
    backends.push(...bs);
    publish(feed, "web", bs);
    const warm = await load(frontPort, HOST, 60, 6);
    expect(warm.every((r) => r.status === 200)).to.equal(true);
    const later = await load(frontPort, HOST, 240, 6);
    const share = later.filter((r) => r.backend === "slow").length / later.length;
    expect(share).to.be.lessThan(0.1);
    const spread = new Set(later.map((r) => r.backend));
    expect(spread.has("a") && spread.has("b")).to.equal(true);
  });

  it("loses no request on a retryable route when an endpoint dies under load", async () => {
    const bs = await Promise.all([backend("a", 5), backend("b", 5), backend("c", 5)]);
    backends.push(...bs);
    publish(feed, "web", bs);
    feed.push(
      event(
        "ServiceProfile",
        profileObject("shop", HOST, {
          routes: [{ name: "root", condition: { pathRegex: "/.*" }, isRetryable: true }],
        }),
      ),
    );
    await load(frontPort, HOST, 20, 4);
    const running = load(frontPort, HOST, 300, 8);
    setTimeout(() => {
      bs[1].server.closeAllConnections();
      bs[1].server.close();
    }, 100);
    const results = await running;
    expect(results.filter((r) => r.status !== 200)).to.deep.equal([]);
    const text = await registry.metrics();
    expect(text).to.match(
      /route_request_total\{direction="outbound",dst="web.shop.svc.cluster.local:80",rt_route="root",dst_namespace="shop",dst_service="web"\} \d+/,
    );
    expect(text).to.match(/route_actual_request_total\{[^}]*rt_route="root"[^}]*\} \d+/);
  });

  it("answers 504 at the route timeout", async () => {
    const bs = [await backend("slow", 1000)];
    backends.push(...bs);
    publish(feed, "web", bs);
    feed.push(
      event(
        "ServiceProfile",
        profileObject("shop", HOST, {
          routes: [{ name: "slow", condition: { pathRegex: "/slow" }, timeout: "200ms" }],
        }),
      ),
    );
    await new Promise((r) => setTimeout(r, 100));
    const r = await get(frontPort, HOST, "/slow");
    expect(r.status).to.equal(504);
    expect(r.error).to.match(/timed out after 200 ms/);
    expect(r.ms).to.be.within(180, 600);
  });

  it("splits traffic by dstOverrides weights", async () => {
    const v1 = await backend("v1", 1);
    const v2 = await backend("v2", 1);
    backends.push(v1, v2);
    publish(feed, "web", [v1]);
    publish(feed, "web-v1", [v1]);
    publish(feed, "web-v2", [v2]);
    feed.push(
      event(
        "ServiceProfile",
        profileObject("shop", HOST, {
          dstOverrides: [
            { authority: "web-v1.shop.svc.cluster.local:80", weight: "750m" },
            { authority: "web-v2.shop.svc.cluster.local:80", weight: "250m" },
          ],
        }),
      ),
    );
    await get(frontPort, HOST);
    await new Promise((r) => setTimeout(r, 200));
    const results = await load(frontPort, HOST, 600, 10);
    const share = results.filter((r) => r.backend === "v2").length / results.length;
    expect(share).to.be.closeTo(0.25, 0.05);
  });

  it("drops an endpoint's pool once its keep-alive connections have closed", async () => {
    const b = await backend("pooled", 1);
    backends.push(b);
    publish(feed, "web", [b]);
    const own = new OutboundHttp({
      discovery,
      metrics: new RouteMetricFamilies(new Registry()),
      agentSweepMs: 100,
    });
    const server = http.createServer(
      (req, res) => void own.handle(req, res, { address: "127.0.0.1", port: 80 }),
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const r = await get((server.address() as AddressInfo).port, HOST);
      expect(r.status).to.equal(200);
      expect(own.agentCount).to.equal(1);
      // The idle keep-alive connection times out after 3 s; the next sweep drops the pool.
      const deadline = performance.now() + 8000;
      while (own.agentCount > 0 && performance.now() < deadline)
        await new Promise((res) => setTimeout(res, 100));
      expect(own.agentCount).to.equal(0);
    } finally {
      own.close();
      server.close();
    }
  });

  it("fails fast with 503 and l5d-proxy-error when a service has no endpoints", async () => {
    feed.push(event("Service", serviceObject("shop", "web", [{ name: "http", port: 80 }])));
    const r = await get(frontPort, HOST);
    expect(r.status).to.equal(503);
    expect(r.error).to.match(/no ready endpoint/);
    expect(r.ms).to.be.within(250, 1500);
  });
});
