// HTTP/2 and gRPC through the route layer, end to end on loopback: a real destination server
// (fed Services, EndpointSlices and ServiceProfiles), the real proxy with the discovery stack,
// grpc-js and node:http2 servers as endpoints, and grpc-js / node:http2 clients.
import * as grpc from "@grpc/grpc-js";
import { expect } from "chai";
import * as http2 from "node:http2";
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
import type { ServiceProfileSpec } from "../../crds/types";
import { loadConfig } from "../config";
import { ProxyMetrics } from "../metrics/metrics";
import type { RunningProxy } from "../proxy";
import { startDiscoveryProxy, testEnv } from "../testkit";
import { noTls } from "../tls/seam";
import type { DiscoveryStack } from "./stack";

const raw = (b: Buffer): Buffer => b;
const unaryMethod = (path: string) => ({
  path,
  requestStream: false,
  responseStream: false,
  requestSerialize: raw,
  requestDeserialize: raw,
  responseSerialize: raw,
  responseDeserialize: raw,
});
const SERVICE = {
  flaky: unaryMethod("/weft.test.Shop/Flaky"),
  slow: unaryMethod("/weft.test.Shop/Slow"),
  who: unaryMethod("/weft.test.Shop/Who"),
  chat: { ...unaryMethod("/weft.test.Shop/Chat"), requestStream: true, responseStream: true },
};
const ShopClient = grpc.makeGenericClientConstructor(SERVICE, "Shop");
type Client = InstanceType<typeof ShopClient> & Record<string, CallableFunction>;
type Unary = (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => void;

interface GrpcBackend {
  readonly id: string;
  readonly server: grpc.Server;
  readonly port: number;
  /** Calls of Flaky seen; every other one fails with UNAVAILABLE. */
  flakyCalls: number;
}

async function grpcBackend(id: string): Promise<GrpcBackend> {
  const server = new grpc.Server();
  const b = { id, server, port: 0, flakyCalls: 0 };
  const flaky: Unary = (call, cb) => {
    b.flakyCalls++;
    if (b.flakyCalls % 2 === 1) cb({ code: grpc.status.UNAVAILABLE, details: "try again" });
    else cb(null, Buffer.concat([Buffer.from(`${id}:`), call.request]));
  };
  const slow: Unary = (_call, cb) => setTimeout(() => cb(null, Buffer.from(id)), 1000);
  const who: Unary = (_call, cb) => cb(null, Buffer.from(id));
  const chat = (call: grpc.ServerDuplexStream<Buffer, Buffer>): void => {
    call.on("data", (d: Buffer) => call.write(Buffer.concat([Buffer.from(`${id}:`), d])));
    call.on("end", () => call.end());
  };
  server.addService(SERVICE, { flaky, slow, who, chat });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return Object.assign(b, { port });
}

/** A Service `name` whose endpoints are the given loopback ports, one slice each. */
function publish(feed: FeedWatchSource, name: string, ports: number[]): void {
  feed.push(event("Service", serviceObject("shop", name, [{ name: "grpc", port: 80 }])));
  ports.forEach((port, i) =>
    feed.push(
      event(
        "EndpointSlice",
        sliceObject("shop", `${name}-${i}`, name, [{ name: "grpc", port }], [{ ip: "127.0.0.1" }]),
      ),
    ),
  );
}

function profile(feed: FeedWatchSource, name: string, spec: ServiceProfileSpec): void {
  feed.push(event("ServiceProfile", profileObject("shop", `${name}.shop.svc.cluster.local`, spec)));
}

interface CallResult {
  reply?: string;
  code: number;
  proxyError?: string;
  ms: number;
}

function call(client: Client, method: string, body = "hi"): Promise<CallResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    client[method](Buffer.from(body), (err: grpc.ServiceError | null, reply?: Buffer) => {
      const proxyError = err?.metadata?.get("l5d-proxy-error")[0];
      resolve({
        reply: reply?.toString(),
        code: err?.code ?? 0,
        proxyError: proxyError === undefined ? undefined : String(proxyError),
        ms: performance.now() - t0,
      });
    });
  });
}

async function metricValue(
  proxy: RunningProxy,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const m = await proxy.metrics.registry.getSingleMetric(name)?.get();
  return (m?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((a, v) => a + v.value, 0);
}

/** A settled profile: the destination pushed it and the proxy compiled it. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 150));

describe("HTTP/2 and gRPC through the route layer (loopback, real destination)", function () {
  this.timeout(30_000);
  const feed = new FeedWatchSource();
  const servers: grpc.Server[] = [];
  const clients: Client[] = [];
  let dest: RunningDestination;
  let stack: DiscoveryStack;
  let proxy: RunningProxy;

  before(async () => {
    dest = await startDestination({ ...DEFAULT_OPTIONS, addr: "127.0.0.1:0" }, feed);
    const config = loadConfig(
      testEnv(80, {
        WEFT_PROXY_DESTINATION_SVC_ADDR: `127.0.0.1:${dest.port}`,
        WEFT_PROXY_DESTINATION_CONTEXT: '{"ns":"shop"}',
      }),
    );
    const metrics = new ProxyMetrics();
    const tls = noTls(true);
    ({ proxy, stack } = await startDiscoveryProxy(config, {
      tls,
      metrics,
      http: { balancer: { failfastMs: 500 } },
    }));
  });

  after(async () => {
    for (const c of clients) c.close();
    await proxy.close();
    stack.close();
    for (const s of servers) s.forceShutdown();
    await dest.stop();
  });

  async function backends(name: string, n: number): Promise<GrpcBackend[]> {
    const bs = await Promise.all(Array.from({ length: n }, (_, i) => grpcBackend(`${name}${i}`)));
    servers.push(...bs.map((b) => b.server));
    publish(
      feed,
      name,
      bs.map((b) => b.port),
    );
    return bs;
  }

  function client(name: string): Client {
    const c = new ShopClient(
      `127.0.0.1:${proxy.outbound.port}`,
      grpc.credentials.createInsecure(),
      {
        "grpc.default_authority": `${name}.shop.svc.cluster.local`,
      },
    ) as Client;
    clients.push(c);
    return c;
  }

  it("retries a gRPC call that failed with UNAVAILABLE on a retryable route, body and all", async () => {
    const [b] = await backends("rty", 1);
    profile(feed, "rty", {
      routes: [
        {
          name: "flaky",
          condition: { method: "POST", pathRegex: "/weft\\.test\\.Shop/Flaky" },
          isRetryable: true,
        },
      ],
    });
    await settle();
    const c = client("rty");
    const results: CallResult[] = [];
    for (let i = 0; i < 10; i++) results.push(await call(c, "flaky", `m${i}`));
    expect(results.map((r) => r.code)).to.deep.equal(Array(10).fill(0));
    expect(results.map((r) => r.reply)).to.deep.equal(results.map((_, i) => `rty0:m${i}`));
    expect(b.flakyCalls).to.equal(20);
    // request_total/response_total count each call once, by endpoint, with its grpc-status.
    const authority = "rty.shop.svc.cluster.local";
    expect(
      await metricValue(proxy, "request_total", { direction: "outbound", authority }),
    ).to.equal(10);
    expect(await metricValue(proxy, "response_total", { authority, grpc_status: "0" })).to.equal(
      10,
    );
    const labels = { rt_route: "flaky", dst: "rty.shop.svc.cluster.local:80" };
    expect(await metricValue(proxy, "route_request_total", labels)).to.equal(10);
    expect(await metricValue(proxy, "route_actual_request_total", labels)).to.equal(20);
    expect(
      await metricValue(proxy, "route_response_total", { ...labels, classification: "success" }),
    ).to.equal(10);
    expect(
      await metricValue(proxy, "route_actual_response_total", {
        ...labels,
        classification: "failure",
      }),
    ).to.equal(10);
    // dst_* labels come from the destination's set-level labels.
    expect(
      await metricValue(proxy, "route_request_total", {
        ...labels,
        dst_namespace: "shop",
        dst_service: "rty",
      }),
    ).to.equal(10);
  });

  it("streams a bidirectional call message by message on a retryable route", async () => {
    await backends("bidi", 1);
    profile(feed, "bidi", {
      routes: [{ name: "all", condition: { pathRegex: "/.*" }, isRetryable: true }],
    });
    await settle();
    const chat = (client("bidi").chat as () => grpc.ClientDuplexStream<Buffer, Buffer>)();
    const replies: string[] = [];
    // Each message is sent only after the previous reply: the proxy must not wait for the end.
    await new Promise<void>((resolve, reject) => {
      chat.on("data", (d: Buffer) => {
        replies.push(String(d));
        if (replies.length < 3) chat.write(Buffer.from(`m${replies.length}`));
        else chat.end();
      });
      chat.on("error", reject);
      chat.on("status", () => resolve());
      chat.write(Buffer.from("m0"));
    });
    expect(replies).to.deep.equal(["bidi0:m0", "bidi0:m1", "bidi0:m2"]);
  });

  it("retries a grpc-status in trailers that follow the response head", async () => {
    let calls = 0;
    const server = http2.createServer();
    server.on("stream", (stream) => {
      stream.resume();
      stream.on("end", () => {
        const ok = ++calls % 2 === 0;
        stream.respond(
          { ":status": 200, "content-type": "application/grpc" },
          { waitForTrailers: true },
        );
        stream.on("wantTrailers", () =>
          stream.sendTrailers({ "grpc-status": ok ? "0" : "14", "grpc-message": "" }),
        );
        if (!ok) return void stream.end();
        const msg = Buffer.from("late");
        const frame = Buffer.alloc(5 + msg.length);
        frame.writeUInt32BE(msg.length, 1);
        msg.copy(frame, 5);
        stream.end(frame);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      publish(feed, "late", [(server.address() as { port: number }).port]);
      profile(feed, "late", {
        routes: [{ name: "all", condition: { pathRegex: "/.*" }, isRetryable: true }],
      });
      await settle();
      const r = await call(client("late"), "who");
      expect(r).to.deep.include({ code: 0, reply: "late" });
      expect(calls).to.equal(2);
    } finally {
      server.close();
    }
  });

  it("does not retry a route that is not retryable, and classifies its grpc-status as a failure", async () => {
    const [b] = await backends("nrt", 1);
    profile(feed, "nrt", {
      routes: [{ name: "flaky", condition: { pathRegex: "/weft\\.test\\.Shop/Flaky" } }],
    });
    await settle();
    const c = client("nrt");
    const first = await call(c, "flaky");
    expect(first.code).to.equal(grpc.status.UNAVAILABLE);
    expect(first.proxyError).to.equal(undefined);
    expect(b.flakyCalls).to.equal(1);
    const labels = { rt_route: "flaky", dst: "nrt.shop.svc.cluster.local:80" };
    expect(
      await metricValue(proxy, "route_response_total", { ...labels, classification: "failure" }),
    ).to.equal(1);
  });

  it("counts a retry the budget does not allow as skipped=no_budget", async () => {
    const [b] = await backends("nob", 1);
    profile(feed, "nob", {
      routes: [{ name: "flaky", condition: { pathRegex: "/.*" }, isRetryable: true }],
      retryBudget: { retryRatio: 0, minRetriesPerSecond: 0, ttl: "10s" },
    });
    await settle();
    const r = await call(client("nob"), "flaky");
    expect(r.code).to.equal(grpc.status.UNAVAILABLE);
    expect(b.flakyCalls).to.equal(1);
    const labels = { rt_route: "flaky", dst: "nob.shop.svc.cluster.local:80" };
    expect(
      await metricValue(proxy, "route_retryable_total", { ...labels, skipped: "no_budget" }),
    ).to.equal(1);
  });

  it("answers DEADLINE_EXCEEDED with l5d-proxy-error at a route's timeout", async () => {
    await backends("tmo", 1);
    profile(feed, "tmo", {
      routes: [
        { name: "slow", condition: { pathRegex: "/weft\\.test\\.Shop/Slow" }, timeout: "200ms" },
      ],
    });
    await settle();
    const r = await call(client("tmo"), "slow");
    expect(r.code).to.equal(grpc.status.DEADLINE_EXCEEDED);
    expect(r.proxyError).to.match(/timed out after 200 ms/);
    expect(r.ms).to.be.within(150, 900);
    const labels = { rt_route: "slow", dst: "tmo.shop.svc.cluster.local:80" };
    expect(
      await metricValue(proxy, "route_response_total", {
        ...labels,
        classification: "failure",
        error: "timeout",
      }),
    ).to.equal(1);
  });

  it("splits gRPC calls by dstOverrides weight", async () => {
    await backends("spl", 1);
    await backends("spl-v1", 1);
    await backends("spl-v2", 1);
    profile(feed, "spl", {
      dstOverrides: [
        { authority: "spl-v1.shop.svc.cluster.local:80", weight: "800m" },
        { authority: "spl-v2.shop.svc.cluster.local:80", weight: "200m" },
      ],
    });
    await settle();
    const c = client("spl");
    await call(c, "who");
    await settle();
    const results = await Promise.all(Array.from({ length: 400 }, () => call(c, "who")));
    expect(results.filter((r) => r.code !== 0)).to.deep.equal([]);
    const v2 = results.filter((r) => r.reply === "spl-v20").length / results.length;
    expect(v2).to.be.closeTo(0.2, 0.07);
    expect(results.filter((r) => r.reply === "spl0")).to.deep.equal([]);
  });

  describe("plain HTTP/2 (node:http2)", () => {
    let server: http2.Http2Server;
    let seen: { path: string; body: number }[];
    let refused = 0;

    before(async () => {
      seen = [];
      server = http2.createServer();
      server.on("stream", (stream, headers) => {
        // Never answered: for the route timeout.
        if (headers[":path"] === "/hang") return stream.resume();
        // Refused unprocessed the first time, whatever the route says about retries.
        if (headers[":path"] === "/refused" && refused++ === 0) {
          stream.on("error", () => undefined);
          return stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        }
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          const body = Buffer.concat(chunks);
          seen.push({ path: String(headers[":path"]), body: body.length });
          // Every first attempt of a path fails; the second succeeds and echoes the body size.
          const fail =
            headers[":path"] !== "/refused" &&
            seen.filter((s) => s.path === headers[":path"]).length % 2 === 1;
          stream.respond({ ":status": fail ? 503 : 200 });
          stream.end(String(body.length));
        });
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      const port = (server.address() as { port: number }).port;
      publish(feed, "h2", [port]);
      profile(feed, "h2", {
        routes: [{ name: "upload", condition: { pathRegex: "/upload/.*" }, isRetryable: true }],
      });
      await settle();
    });

    after(() => server.close());

    function post(path: string, size: number): Promise<{ status: number; body: string }> {
      const session = http2.connect(`http://127.0.0.1:${proxy.outbound.port}`);
      return new Promise((resolve, reject) => {
        const req = session.request({
          ":method": "POST",
          ":path": path,
          ":authority": "h2.shop.svc.cluster.local",
        });
        let status = 0;
        let body = "";
        req.on("response", (h) => (status = Number(h[":status"])));
        req.on("data", (d: Buffer) => (body += String(d)));
        req.on("end", () => {
          session.close();
          resolve({ status, body });
        });
        req.on("error", reject);
        req.end(Buffer.alloc(size, 7));
      });
    }

    it("sends a refused stream again on a route that is not retryable", async () => {
      const r = await post("/refused", 5_000);
      expect(r).to.deep.equal({ status: 200, body: "5000" });
      expect(refused).to.equal(2);
    });

    it("retries a 503 with the request body sent again", async () => {
      const r = await post("/upload/a", 10_000);
      expect(r).to.deep.equal({ status: 200, body: "10000" });
      expect(seen.filter((s) => s.path === "/upload/a")).to.deep.equal([
        { path: "/upload/a", body: 10_000 },
        { path: "/upload/a", body: 10_000 },
      ]);
    });

    it("answers 504 with l5d-proxy-error at a route's timeout", async () => {
      profile(feed, "h2", {
        routes: [
          { name: "upload", condition: { pathRegex: "/upload/.*" }, isRetryable: true },
          { name: "hang", condition: { pathRegex: "/hang" }, timeout: "150ms" },
        ],
      });
      await settle();
      const t0 = performance.now();
      const r = await post("/hang", 0);
      expect(r.status).to.equal(504);
      expect(r.body).to.match(/timed out after 150 ms/);
      expect(performance.now() - t0).to.be.lessThan(1500);
    });

    it("sends a stream for a name the destination does not know to its original destination", async () => {
      const port = (server.address() as { port: number }).port;
      const config = loadConfig(
        testEnv(port, {
          WEFT_PROXY_DESTINATION_SVC_ADDR: `127.0.0.1:${dest.port}`,
          WEFT_PROXY_DESTINATION_CONTEXT: '{"ns":"shop"}',
        }),
      );
      const tls = noTls(true);
      const metrics = new ProxyMetrics();
      const { proxy: direct, stack: own } = await startDiscoveryProxy(config, { tls, metrics });
      try {
        const session = http2.connect(`http://127.0.0.1:${direct.outbound.port}`);
        const status = await new Promise<number>((resolve, reject) => {
          const req = session.request({
            ":method": "POST",
            ":path": "/external",
            ":authority": "example.com",
          });
          req.on("response", (h) => resolve(Number(h[":status"])));
          req.on("error", reject);
          req.end("x");
        });
        session.close();
        // The server's first answer for a path is 503; no route of this name retries it.
        expect(status).to.equal(503);
        expect(seen.filter((s) => s.path === "/external")).to.have.length(1);
      } finally {
        await direct.close();
        own.close();
      }
    });

    it("does not retry a request whose body is over 64 KiB", async () => {
      const r = await post("/upload/b", 100_000);
      expect(r.status).to.equal(503);
      expect(seen.filter((s) => s.path === "/upload/b")).to.have.length(1);
    });
  });
});
