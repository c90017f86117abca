// The discovery stack through the real startProxy (loopback): a fake destination service feeds
// endpoints and profiles; requests to the proxy's outbound port are balanced, timed out and
// retried per request, and meshed endpoints are reached over mTLS.
import { expect } from "chai";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import {
  event,
  podObject,
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
import { Readiness } from "../admin/readiness";
import { loadConfig, type Env } from "../config";
import { unavailable } from "../interception";
import { ProxyMetrics } from "../metrics/metrics";
import { startProxy, type RunningProxy } from "../proxy";
import { closeServer, listenOn, rawExchange, startDiscoveryProxy, testEnv } from "../testkit";
import { MtlsCredentials, mtlsOriginator, mtlsTerminator } from "../tls/mtls";
import { noTls, type TlsSeam } from "../tls/seam";
import { testCa, type TestCa } from "../tls/test-pki";
import type { DiscoveryStack } from "./stack";

const CLI = "cli.shop.serviceaccount.identity.weft-system.cluster.local";
const SRV = "srv.shop.serviceaccount.identity.weft-system.cluster.local";

async function seamFor(ca: TestCa, identity: string): Promise<TlsSeam> {
  const creds = new MtlsCredentials(await ca.issue(identity));
  return {
    outbound: mtlsOriginator(creds),
    inbound: mtlsTerminator(creds),
    plaintextLabels: noTls(false).plaintextLabels,
  };
}

interface Backend {
  readonly id: string;
  readonly server: http.Server;
  port: number;
  delayMs: number;
}

async function backend(id: string, delayMs: number): Promise<Backend> {
  const b: Backend = { id, server: http.createServer(), port: 0, delayMs };
  b.server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.resume();
    const who = `${id} id=${String(req.headers["l5d-client-id"] ?? "-")}`;
    setTimeout(() => res.writeHead(200, { "x-backend": id }).end(who), b.delayMs);
  });
  b.port = await listenOn(b.server);
  return b;
}

/** A Service whose endpoints are loopback backends, one slice (and port) each. */
function publish(feed: FeedWatchSource, name: string, backends: Backend[]): void {
  feed.push(event("Service", serviceObject("shop", name, [{ name: "http", port: 80 }])));
  for (const b of backends) {
    const slice = sliceObject(
      "shop",
      `${name}-${b.id}`,
      name,
      [{ name: "http", port: b.port }],
      [{ ip: "127.0.0.1" }],
    );
    feed.push(event("EndpointSlice", slice));
  }
}

interface Reply {
  status: number;
  backend: string;
  body: string;
  error: string;
  ms: number;
}

function get(port: number, host: string, path = "/"): Promise<Reply> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path, headers: { host }, agent: false }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            backend: String(res.headers["x-backend"] ?? ""),
            body,
            error: String(res.headers["l5d-proxy-error"] ?? ""),
            ms: performance.now() - t0,
          }),
        );
      })
      .on("error", reject);
  });
}

function send(
  port: number,
  host: string,
  method: string,
  path: string,
  body: string,
): Promise<Reply> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, method, path, headers: { host }, agent: false },
      (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            backend: String(res.headers["x-backend"] ?? ""),
            body: text,
            error: String(res.headers["l5d-proxy-error"] ?? ""),
            ms: performance.now() - t0,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** `total` requests, `concurrency` at a time. */
async function load(port: number, host: string, total: number, concurrency: number) {
  const out: Reply[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next++ < total) out.push(await get(port, host));
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

describe("discovery stack through startProxy (loopback, fake destination)", function () {
  this.timeout(30_000);
  const feed = new FeedWatchSource();
  const backends: Backend[] = [];
  let dest: RunningDestination;
  let stack: DiscoveryStack;
  let proxy: RunningProxy;
  let ca: TestCa;

  before(async () => {
    ca = await testCa();
    dest = await startDestination({ ...DEFAULT_OPTIONS, addr: "127.0.0.1:0" }, feed);
    const env: Env = {
      WEFT_PROXY_DESTINATION_SVC_ADDR: `127.0.0.1:${dest.port}`,
      WEFT_PROXY_DESTINATION_CONTEXT: '{"ns":"shop"}',
      WEFT_PROXY_IDENTITY_DISABLED: "false",
    };
    const config = loadConfig(testEnv(80, env));
    const metrics = new ProxyMetrics();
    const tls = await seamFor(ca, CLI);
    ({ proxy, stack } = await startDiscoveryProxy(config, {
      tls,
      metrics,
      http: { balancer: { failfastMs: 300 } },
    }));
  });

  after(async () => {
    await proxy.close();
    stack.close();
    for (const b of backends) await closeServer(b.server);
    await dest.stop();
  });

  /** A meshed pod's proxy on `ip` (identity SRV), forwarding inbound to `appPort`. */
  async function meshedPeer(appPort: number, ip: string): Promise<RunningProxy> {
    const config = loadConfig(
      testEnv(appPort, {
        WEFT_PROXY_INBOUND_LISTEN_ADDR: `${ip}:0`,
        WEFT_PROXY_IDENTITY_DISABLED: "false",
      }),
    );
    return startProxy(config, {
      tls: await seamFor(ca, SRV),
      readiness: new Readiness(),
      interception: unavailable("loopback test"),
    });
  }

  /** Service `name` whose one endpoint is the meshed pod `<name>-0` on `ip`, at its proxy's `port`. */
  function publishMeshed(name: string, ip: string, port: number): void {
    const pod = podObject("shop", `${name}-0`, ip, { meshed: true, serviceAccount: "srv" });
    feed.push(event("Pod", pod));
    feed.push(event("Service", serviceObject("shop", name, [{ name: "http", port: 80 }])));
    const ports = [{ name: "http", port }];
    feed.push(
      event(
        "EndpointSlice",
        sliceObject("shop", `${name}-a`, name, ports, [{ ip, pod: `${name}-0` }]),
      ),
    );
  }

  async function service(name: string, delays: number[]): Promise<Backend[]> {
    const bs = await Promise.all(delays.map((d, i) => backend(`${name}${i}`, d)));
    backends.push(...bs);
    publish(feed, name, bs);
    return bs;
  }

  it("balances per request: a slow endpoint gets fewer requests", async () => {
    await service("bal", [2, 120]);
    const host = "bal.shop.svc.cluster.local";
    const warm = await load(proxy.outbound.port, host, 20, 4);
    const later = await load(proxy.outbound.port, host, 120, 4);
    expect(later.filter((r) => r.status !== 200)).to.deep.equal([]);
    // Both endpoints were in play; once the slow one's latency is known it gets little.
    expect(new Set([...warm, ...later].map((r) => r.backend))).to.deep.equal(
      new Set(["bal0", "bal1"]),
    );
    const slow = later.filter((r) => r.backend === "bal1").length;
    expect(slow / later.length).to.be.lessThan(0.2);
  });

  it("answers 504 at a route's timeout", async () => {
    await service("tmo", [1000]);
    const host = "tmo.shop.svc.cluster.local";
    const route = { name: "slow", condition: { pathRegex: "/slow" }, timeout: "200ms" };
    feed.push(event("ServiceProfile", profileObject("shop", host, { routes: [route] })));
    await new Promise((r) => setTimeout(r, 100));
    const r = await get(proxy.outbound.port, host, "/slow");
    expect(r.status).to.equal(504);
    expect(r.ms).to.be.within(180, 600);
  });

  it("loses no request on a retryable route when an endpoint is killed", async () => {
    const bs = await service("rty", [5, 5, 5]);
    const host = "rty.shop.svc.cluster.local";
    const route = { name: "all", condition: { pathRegex: "/.*" }, isRetryable: true };
    feed.push(event("ServiceProfile", profileObject("shop", host, { routes: [route] })));
    await load(proxy.outbound.port, host, 20, 4);
    const running = load(proxy.outbound.port, host, 200, 6);
    setTimeout(() => void closeServer(bs[1].server), 100);
    const results = await running;
    expect(results.filter((r) => r.status !== 200)).to.deep.equal([]);
  });

  it("retries a failed POST on a retryable route with its body, and counts the route's attempts", async () => {
    // Fails the first time it sees a body, answers the second time.
    const seen = new Map<string, number>();
    const flaky = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += String(d)));
      req.on("end", () => {
        const n = (seen.get(body) ?? 0) + 1;
        seen.set(body, n);
        res.writeHead(n === 1 ? 500 : 200, { "x-backend": "flaky" }).end(body);
      });
    });
    const b: Backend = { id: "flaky", server: flaky, port: await listenOn(flaky), delayMs: 0 };
    backends.push(b);
    publish(feed, "post", [b]);
    const host = "post.shop.svc.cluster.local";
    const route = {
      name: "orders",
      condition: { method: "POST", pathRegex: "/orders" },
      isRetryable: true,
    };
    feed.push(event("ServiceProfile", profileObject("shop", host, { routes: [route] })));
    await new Promise((r) => setTimeout(r, 100));
    const port = proxy.outbound.port;
    const results: Reply[] = [];
    for (let i = 0; i < 10; i++)
      results.push(await send(port, host, "POST", "/orders", `order-${i}`));
    expect(results.map((r) => [r.status, r.body])).to.deep.equal(
      Array.from({ length: 10 }, (_, i) => [200, `order-${i}`]),
    );
    expect([...seen.values()]).to.deep.equal(Array.from({ length: 10 }, () => 2));
    const text = await proxy.metrics.registry.metrics();
    const count = (name: string): number =>
      Number(new RegExp(`${name}\\{[^}]*rt_route="orders"[^}]*\\} (\\d+)`).exec(text)?.[1]);
    expect(count("route_request_total")).to.equal(10);
    expect(count("route_actual_request_total")).to.equal(20);
  });

  it("splits traffic by dstOverrides weights", async () => {
    const [v1] = await service("splitv1", [1]);
    const [v2] = await service("splitv2", [1]);
    publish(feed, "split", [v1]);
    const host = "split.shop.svc.cluster.local";
    const dstOverrides = [
      { authority: "splitv1.shop.svc.cluster.local:80", weight: "750m" },
      { authority: "splitv2.shop.svc.cluster.local:80", weight: "250m" },
    ];
    feed.push(event("ServiceProfile", profileObject("shop", host, { dstOverrides })));
    await get(proxy.outbound.port, host);
    await new Promise((r) => setTimeout(r, 200));
    const results = await load(proxy.outbound.port, host, 400, 8);
    const share = results.filter((r) => r.backend === v2.id).length / results.length;
    expect(share).to.be.closeTo(0.25, 0.06);
  });

  it("fails fast with 503 and l5d-proxy-error when a service has no endpoints", async () => {
    feed.push(event("Service", serviceObject("shop", "empty", [{ name: "http", port: 80 }])));
    const r = await get(proxy.outbound.port, "empty.shop.svc.cluster.local");
    expect(r.status).to.equal(503);
    expect(r.error).to.match(/no ready endpoint/);
    expect(r.ms).to.be.within(250, 1500);
  });

  it("relays an upgrade (WebSocket-style) to a balanced endpoint", async () => {
    const [b] = await service("upg", [1]);
    const upgraded: net.Socket[] = [];
    b.server.on("upgrade", (_req: http.IncomingMessage, s: net.Socket, head: Buffer) => {
      upgraded.push(s);
      s.write("HTTP/1.1 101 Switching Protocols\r\nupgrade: test\r\nconnection: upgrade\r\n\r\n");
      if (head.length > 0) s.write(`echo:${String(head)}`);
      s.on("data", (d) => s.write(`echo:${String(d)}`));
    });
    const req =
      "GET /chat HTTP/1.1\r\nhost: upg.shop.svc.cluster.local\r\nconnection: upgrade\r\nupgrade: test\r\n\r\nhello";
    const text = await rawExchange(proxy.outbound.port, req, (t) => t.includes("echo:hello"));
    for (const s of upgraded) s.destroy();
    expect(text).to.match(/^HTTP\/1.1 101 /);
  });

  it("reaches a meshed endpoint over mTLS: the app sees the client identity, metrics the server's", async () => {
    const app = await backend("app", 1);
    backends.push(app);
    const peer = await meshedPeer(app.port, "127.0.0.2");
    try {
      publishMeshed("srv", "127.0.0.2", peer.inbound.port);
      const r = await get(proxy.outbound.port, "srv.shop.svc.cluster.local");
      expect(r).to.deep.include({ status: 200, body: `app id=${CLI}` });
      const text = await proxy.metrics.registry.metrics();
      expect(text).to.match(
        new RegExp(`request_total\\{direction="outbound"[^}]*tls="true",server_id="${SRV}"`),
      );
      expect(text).to.match(
        new RegExp(
          `tcp_open_total\\{direction="outbound",peer="dst"[^}]*tls="true",server_id="${SRV}"\\} 1`,
        ),
      );
      expect(text).to.match(
        new RegExp(
          `response_total\\{direction="outbound"[^}]*tls="true",server_id="${SRV}"[^}]*status_code="200"`,
        ),
      );
    } finally {
      await peer.close();
    }
  });
  it("sends HTTP/2 through the route layer to a meshed endpoint over mTLS", async () => {
    const app = http2.createServer((req, res) => {
      res.setHeader("x-client-id", String(req.headers["l5d-client-id"] ?? "-"));
      res.end("h2 app");
    });
    const appPort = await listenOn(app);
    const peer = await meshedPeer(appPort, "127.0.0.4");
    try {
      publishMeshed("h2srv", "127.0.0.4", peer.inbound.port);
      const session = http2.connect(`http://127.0.0.1:${proxy.outbound.port}`);
      const reply = await new Promise<{ id: string; body: string }>((resolve, reject) => {
        const req = session.request({ ":path": "/", ":authority": "h2srv.shop.svc.cluster.local" });
        let body = "";
        let id = "";
        req.on("response", (h) => (id = String(h["x-client-id"])));
        req.on("data", (d: Buffer) => (body += String(d)));
        req.on("end", () => resolve({ id, body }));
        req.on("error", reject);
        req.end();
      });
      session.close();
      expect(reply).to.deep.equal({ id: CLI, body: "h2 app" });
      expect(await proxy.metrics.registry.metrics()).to.match(
        new RegExp(
          `response_total\{direction="outbound",authority="h2srv.shop.svc.cluster.local"[^}]*tls="true",server_id="${SRV}"`,
        ),
      );
    } finally {
      await peer.close();
      await closeServer(app);
    }
  });

  it("sends opaque TCP to a meshed pod through its proxy's inbound port (opaque transport from discovery)", async () => {
    const echo = net.createServer((c) => c.on("data", (d) => c.write(`echo:${String(d)}`)));
    const echoPort = await listenOn(echo);
    const peer = await meshedPeer(9, "127.0.0.3");
    const pod = podObject("shop", "db-0", "127.0.0.3", {
      meshed: true,
      serviceAccount: "srv",
      annotations: { "config.weft.io/opaque-ports": String(echoPort) },
    }) as { spec: { containers: { ports: { containerPort: number }[] }[] } };
    pod.spec.containers[1].ports[0].containerPort = peer.inbound.port;
    feed.push(event("Pod", pod as Parameters<typeof event>[1]));
    const config = loadConfig(
      testEnv(9, {
        WEFT_PROXY_DESTINATION_SVC_ADDR: `127.0.0.1:${dest.port}`,
        WEFT_PROXY_IDENTITY_DISABLED: "false",
        WEFT_PROXY_OUTBOUND_FIXED_TARGET: `127.0.0.3:${echoPort}`,
        WEFT_PROXY_OUTBOUND_PORTS_DISABLE_PROTOCOL_DETECTION: String(echoPort),
      }),
    );
    const tls = await seamFor(ca, CLI);
    const metrics = new ProxyMetrics();
    const { proxy: client, stack: own } = await startDiscoveryProxy(config, { tls, metrics });
    try {
      const text = await rawExchange(client.outbound.port, "ping", (t) => t.includes("echo:"));
      expect(text).to.equal("echo:ping");
      expect(await metrics.registry.metrics()).to.match(
        new RegExp(
          `tcp_open_total\\{direction="outbound",peer="dst",target_addr="127.0.0.3:${echoPort}",tls="true",server_id="${SRV}"\\} 1`,
        ),
      );
    } finally {
      await client.close();
      own.close();
      await peer.close();
      await closeServer(echo);
    }
  });
});
