import { expect } from "chai";
import { spawn } from "node:child_process";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as path from "node:path";
import { Readiness } from "./admin/readiness";
import { ipv6Companion, type RunningProxy } from "./proxy";
import { closeServer, listenOn, rawExchange, startTestProxy, testEnv } from "./testkit";

function get(
  port: number,
  p: string,
  opts: http.RequestOptions = {},
  body?: string,
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: p, agent: false, ...opts }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("opaque TCP and protocol detection", function () {
  this.timeout(10_000);

  it("forwards a client-speaks-first binary protocol unchanged, both ways", async () => {
    const echo = net.createServer((s) => s.pipe(s));
    const proxy = await startTestProxy({ targetPort: await listenOn(echo) });
    try {
      const payload = Buffer.from([0, 1, 2, 3, 255, 254, 10, 13, 10]);
      const got = await rawExchange(
        proxy.outbound.port,
        payload,
        (t) => t.length >= payload.length,
      );
      expect(Buffer.from(got, "latin1").equals(payload)).to.equal(true);
    } finally {
      await proxy.close();
      await closeServer(echo);
    }
  });

  it("does not stall a server-speaks-first protocol on an opaque port", async () => {
    const banner = net.createServer((s) => s.end("220 smtp.example ESMTP ready\r\n"));
    const port = await listenOn(banner);
    const proxy = await startTestProxy({
      targetPort: port,
      env: { WEFT_PROXY_OUTBOUND_PORTS_DISABLE_PROTOCOL_DETECTION: String(port) },
    });
    try {
      const started = Date.now();
      const got = await rawExchange(proxy.outbound.port, "", (t) => t.includes("\r\n"));
      expect(got).to.equal("220 smtp.example ESMTP ready\r\n");
      expect(Date.now() - started).to.be.below(1000);
    } finally {
      await proxy.close();
      await closeServer(banner);
    }
  });

  it("falls back to opaque after the detection timeout and counts it", async () => {
    const banner = net.createServer((s) => s.end("* OK mysql-ish greeting\r\n"));
    const proxy = await startTestProxy({
      targetPort: await listenOn(banner),
      env: { WEFT_PROXY_OUTBOUND_DETECT_TIMEOUT: "150ms" },
    });
    try {
      const started = Date.now();
      const got = await rawExchange(proxy.outbound.port, "", (t) => t.includes("\r\n"));
      expect(got).to.equal("* OK mysql-ish greeting\r\n");
      expect(Date.now() - started).to.be.at.least(140);
      const text = await proxy.metrics.registry.metrics();
      expect(text).to.match(
        /protocol_detect_timeout_total\{direction="outbound",target_addr="127\.0\.0\.1:\d+"\} 1/,
      );
    } finally {
      await proxy.close();
      await closeServer(banner);
    }
  });

  it("inbound forwards to the application on loopback at the original port", async () => {
    const app = http.createServer((req, res) => res.end(`app saw ${req.headers.host}`));
    const proxy = await startTestProxy({ targetPort: await listenOn(app) });
    try {
      const r = await get(proxy.inbound.port, "/", { headers: { host: "web.shop:80" } });
      expect(r.body).to.equal("app saw web.shop:80");
    } finally {
      await proxy.close();
      await closeServer(app);
    }
  });
});

describe("unroutable connections", function () {
  this.timeout(10_000);

  it("answers 503 with l5d-proxy-error when the original destination is unknown", async () => {
    const proxy = await startTestProxy({
      targetPort: 9,
      env: { WEFT_PROXY_OUTBOUND_FIXED_TARGET: "" },
    });
    try {
      const r = await get(proxy.outbound.port, "/");
      expect(r.status).to.equal(503);
      expect(r.headers["l5d-proxy-error"]).to.equal(
        "no route to the destination: original destination unknown",
      );
    } finally {
      await proxy.close();
    }
  });

  it("answers 503 when the resolver has no endpoints", async () => {
    const proxy = await startTestProxy({
      targetPort: 9,
      options: { resolver: { resolve: () => Promise.resolve({ endpoints: [] }) } },
    });
    try {
      const r = await get(proxy.outbound.port, "/");
      expect(r.status).to.equal(503);
      expect(r.headers["l5d-proxy-error"]).to.match(/no endpoints/);
    } finally {
      await proxy.close();
    }
  });
});

describe("per-request resolution with a plugged-in resolver", function () {
  this.timeout(10_000);
  const servers: net.Server[] = [];
  let proxy: RunningProxy;
  const authorities: (string | undefined)[] = [];

  before(async () => {
    const h1 = (name: string) => http.createServer((_req, res) => res.end(name));
    const h2 = (name: string) => {
      const server = http2.createServer();
      server.on("stream", (stream) => {
        stream.respond({ ":status": 200 });
        stream.end(name);
      });
      return server as unknown as net.Server;
    };
    servers.push(h1("A"), h1("B"), h2("A"), h2("B"));
    const ports = await Promise.all(servers.map(listenOn));
    let calls = 0;
    proxy = await startTestProxy({
      targetPort: 9,
      options: {
        resolver: {
          resolve: (target) => {
            authorities.push(target.authority);
            const base = target.authority?.startsWith("api.") ? 2 : 0;
            return Promise.resolve({
              endpoints: [{ address: "127.0.0.1", port: ports[base + (calls++ % 2)] }],
            });
          },
        },
      },
    });
  });

  after(async () => {
    await proxy.close();
    for (const server of servers) await closeServer(server);
  });

  it("balances HTTP/1 requests on one connection, resolving each by its authority", async () => {
    authorities.length = 0;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) {
      bodies.push(
        (
          await get(proxy.outbound.port, "/", {
            agent,
            headers: { host: "web.shop.svc.cluster.local:80" },
          })
        ).body,
      );
    }
    agent.destroy();
    expect(new Set(bodies)).to.deep.equal(new Set(["A", "B"]));
    expect(authorities.filter((x) => x === "web.shop.svc.cluster.local:80")).to.have.length(4);
  });

  it("balances HTTP/2 streams on one session", async () => {
    const session = http2.connect(`http://127.0.0.1:${proxy.outbound.port}`);
    try {
      const bodies: string[] = [];
      for (let i = 0; i < 4; i++) {
        const req = session.request({
          ":path": "/",
          ":authority": "api.shop.svc.cluster.local:8080",
        });
        let body = "";
        req.setEncoding("utf8");
        req.on("data", (d: string) => (body += d));
        await new Promise((resolve) => req.on("end", resolve));
        bodies.push(body);
      }
      expect(new Set(bodies)).to.deep.equal(new Set(["A", "B"]));
      expect(authorities).to.include("api.shop.svc.cluster.local:8080");
    } finally {
      session.close();
    }
  });
});

describe("metrics after traffic", function () {
  this.timeout(10_000);

  it("counts requests, responses, latency and TCP with Linkerd's names and labels", async () => {
    const app = http.createServer((req, res) => {
      res.statusCode = req.url === "/fail" ? 500 : 200;
      res.end("x");
    });
    const proxy = await startTestProxy({ targetPort: await listenOn(app) });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 3; i++)
        await get(proxy.outbound.port, "/ok", {
          agent,
          headers: { host: "web.shop.svc.cluster.local:80" },
        });
      await get(proxy.outbound.port, "/fail", {
        agent,
        headers: { host: "web.shop.svc.cluster.local:80" },
      });
      agent.destroy();
      await new Promise((r) => setTimeout(r, 50));
      const text = (await get(proxy.admin.port, "/metrics")).body;
      const base = `direction="outbound",authority="web.shop.svc.cluster.local:80",target_addr="127.0.0.1:\\d+",tls="disabled"`;
      expect(text).to.match(new RegExp(`request_total\\{${base}\\} 4`));
      expect(text).to.match(
        new RegExp(`response_total\\{${base},status_code="200",classification="success"\\} 3`),
      );
      expect(text).to.match(
        new RegExp(`response_total\\{${base},status_code="500",classification="failure"\\} 1`),
      );
      expect(text).to.match(
        new RegExp(`response_latency_ms_bucket\\{le="1",${base},status_code="200"\\} \\d`),
      );
      expect(text).to.match(
        new RegExp(`response_latency_ms_count\\{${base},status_code="200"\\} 3`),
      );
      expect(text).to.match(
        /tcp_open_total\{direction="outbound",peer="src",target_addr="127\.0\.0\.1:\d+",tls="disabled"\} 1/,
      );
      expect(text).to.match(
        /tcp_close_total\{direction="outbound",peer="src",target_addr="127\.0\.0\.1:\d+",tls="disabled"\} 1/,
      );
      expect(text).to.match(
        /tcp_open_connections\{direction="outbound",peer="dst",target_addr="127\.0\.0\.1:\d+",tls="disabled"\} 1/,
      );
      expect(text).to.match(
        /tcp_read_bytes_total\{direction="outbound",peer="src",[^}]*\} [1-9]\d*/,
      );
      expect(text).to.match(
        /tcp_write_bytes_total\{direction="outbound",peer="src",[^}]*\} [1-9]\d*/,
      );
    } finally {
      await proxy.close();
      await closeServer(app);
    }
  });
});

describe("admin server", function () {
  this.timeout(10_000);
  let proxy: RunningProxy;
  const readiness = new Readiness();
  const identityGate = readiness.register("identity");

  before(async () => {
    proxy = await startTestProxy({
      targetPort: 9,
      env: { WEFT_PROXY_SHUTDOWN_ENDPOINT_ENABLED: "true" },
      options: { readiness },
    });
  });
  after(() => proxy.close());

  it("is live at once and ready only when every gate is", async () => {
    expect((await get(proxy.admin.port, "/live")).status).to.equal(200);
    const waiting = await get(proxy.admin.port, "/ready");
    expect(waiting.status).to.equal(503);
    expect(waiting.body).to.include("identity");
    identityGate.ready();
    expect((await get(proxy.admin.port, "/ready")).status).to.equal(200);
  });

  it("reads and changes the log level", async () => {
    expect((await get(proxy.admin.port, "/proxy-log-level")).body).to.equal("off\n");
    expect(
      (await get(proxy.admin.port, "/proxy-log-level", { method: "PUT" }, "debug")).status,
    ).to.equal(204);
    expect(proxy.log.debugOn).to.equal(true);
    expect(
      (await get(proxy.admin.port, "/proxy-log-level", { method: "PUT" }, "loud")).status,
    ).to.equal(400);
    expect((await get(proxy.admin.port, "/proxy-log-level")).body).to.equal("debug\n");
    proxy.log.setLevel("off");
  });

  it("serves metrics in the Prometheus text format", async () => {
    const r = await get(proxy.admin.port, "/metrics");
    expect(r.status).to.equal(200);
    expect(r.headers["content-type"]).to.match(/^text\/plain/);
    expect(r.body).to.include("# TYPE response_latency_ms histogram");
  });

  it("drains on POST /shutdown and reports it", async () => {
    expect((await get(proxy.admin.port, "/shutdown", { method: "GET" })).status).to.equal(405);
    expect((await get(proxy.admin.port, "/shutdown", { method: "POST" })).status).to.equal(202);
    await proxy.done;
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(proxy.outbound.port, "127.0.0.1");
      s.on("connect", () => resolve(false));
      s.on("error", () => resolve(true));
    });
    expect(refused).to.equal(true);
  });
});

describe("graceful drain", function () {
  this.timeout(15_000);

  it("finishes every in-flight request, closes idle connections, refuses new ones", async () => {
    let served = 0;
    let arrived = 0;
    const app = http.createServer((_req, res) => {
      arrived++;
      setTimeout(() => {
        served++;
        res.end("done");
      }, 200);
    });
    const proxy = await startTestProxy({
      targetPort: await listenOn(app),
      env: { WEFT_PROXY_SHUTDOWN_GRACE_PERIOD: "5s" },
    });
    try {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
      const inflight = Array.from({ length: 20 }, (_, i) =>
        get(proxy.outbound.port, `/r${i}`, { agent }),
      );
      // In flight = reached the application (a connection still in the kernel's accept queue
      // when the listener closes is reset by the kernel, as with any server).
      const deadline = Date.now() + 3000;
      while (arrived < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      const drained = proxy.drain();
      const results = await Promise.all(inflight);
      expect(results.map((r) => r.status)).to.deep.equal(Array(20).fill(200));
      expect(results.every((r) => r.headers.connection === "close")).to.equal(true);
      await drained;
      expect(served).to.equal(20);
      const refused = await new Promise<boolean>((resolve) => {
        const s = net.connect(proxy.outbound.port, "127.0.0.1");
        s.on("connect", () => resolve(false));
        s.on("error", () => resolve(true));
      });
      expect(refused).to.equal(true);
      agent.destroy();
    } finally {
      await proxy.close();
      await closeServer(app);
    }
  });

  it("lets HTTP/2 streams in flight finish and tells the client with GOAWAY", async () => {
    const upstream = http2.createServer();
    upstream.on("stream", (stream) => {
      stream.on("error", () => undefined);
      setTimeout(() => {
        stream.respond({ ":status": 200 });
        stream.end("slow");
      }, 200);
    });
    const proxy = await startTestProxy({
      targetPort: await listenOn(upstream as unknown as net.Server),
    });
    const session = http2.connect(`http://127.0.0.1:${proxy.outbound.port}`);
    try {
      const goaway = new Promise((resolve) => session.once("goaway", resolve));
      const statuses = Array.from({ length: 3 }, () => {
        const req = session.request({ ":path": "/" });
        req.resume();
        return new Promise<number>((resolve) =>
          req.on("response", (h) => resolve(Number(h[":status"]))),
        );
      });
      await new Promise((r) => setTimeout(r, 80));
      const drained = proxy.drain();
      await goaway;
      expect(await Promise.all(statuses)).to.deep.equal([200, 200, 200]);
      await drained;
    } finally {
      session.destroy();
      await proxy.close();
      await closeServer(upstream as unknown as net.Server);
    }
  });

  it("cuts what remains when the grace period ends", async () => {
    const app = http.createServer(() => undefined);
    const proxy = await startTestProxy({
      targetPort: await listenOn(app),
      env: { WEFT_PROXY_SHUTDOWN_GRACE_PERIOD: "200ms" },
    });
    try {
      const pending = get(proxy.outbound.port, "/never").then(
        () => "answered",
        () => "cut",
      );
      await new Promise((r) => setTimeout(r, 50));
      const started = Date.now();
      await proxy.drain();
      expect(Date.now() - started).to.be.within(150, 2000);
      expect(await pending).to.equal("cut");
    } finally {
      await closeServer(app);
    }
  });
});

describe("weft-proxy as a process", function () {
  this.timeout(20_000);

  it("rejects bad configuration with one message naming every bad variable", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "main.ts")], {
      env: {
        PATH: process.env.PATH,
        WEFT_PROXY_OUTBOUND_CONNECT_TIMEOUT: "soon",
        WEFT_PROXY_ADMIN_LISTEN_ADDR: "nowhere",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).to.equal(2);
    expect(stderr).to.include("WEFT_PROXY_OUTBOUND_CONNECT_TIMEOUT");
    expect(stderr).to.include("WEFT_PROXY_ADMIN_LISTEN_ADDR");
  });

  it("starts, answers /live, and exits 0 after SIGTERM", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "main.ts")], {
      env: { PATH: process.env.PATH, ...testEnv(9) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("\n")) resolve(out);
        });
        child.on("exit", (c) => reject(new Error(`exited ${c}`)));
      });
      const admin = Number(/admin=127\.0\.0\.1:(\d+)/.exec(line)?.[1]);
      expect((await get(admin, "/live")).status).to.equal(200);
      const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
      child.kill("SIGTERM");
      expect(await exited).to.equal(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});

describe("ipv6Companion", () => {
  it("pairs the IPv4 wildcard and loopback with their IPv6 forms, and nothing else", () => {
    expect(ipv6Companion("127.0.0.1")).to.equal("::1");
    expect(ipv6Companion("0.0.0.0")).to.equal("::");
    expect(ipv6Companion("10.1.2.3")).to.equal(undefined);
    expect(ipv6Companion("::1")).to.equal(undefined);
  });
});
