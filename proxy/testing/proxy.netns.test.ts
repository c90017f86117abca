import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { fetchIn, metricSum } from "./fetch";
import { buildProxyBundle, TwoPods, waitHttp } from "./pods";
import { requireNetns } from "./support";

type Rec = { sentAt: number; doneAt: number; status?: number; error?: string };

describe("the proxy between two meshed pods (netns, real iptables, uid 2102)", function () {
  this.timeout(60_000);
  const pods = new TwoPods();

  before(async function () {
    this.timeout(90_000);
    await requireNetns(this);
    const bundle = await buildProxyBundle();
    await pods.setUp();
    await pods.startApp();
    await pods.mesh(pods.app, bundle, { WEFT_PROXY_SHUTDOWN_GRACE_PERIOD: "3s" });
    await pods.mesh(pods.client, bundle);
    await pods.startAgent();
  });
  after(() => pods.tearDown());

  it("HTTP/1.1 keep-alive: five requests on one client connection, Host kept", async () => {
    const r = await pods.agent.run("keepalive");
    expect(r.statuses).to.deep.equal([200, 200, 200, 200, 200]);
    expect(r.bodies).to.deep.equal(Array(5).fill("hello world\n"));
    expect(r.reused).to.deep.equal([false, true, true, true, true]);
    expect(r.seenHost).to.equal(`${pods.link.a}:8080`);
  });

  it("went through both proxies (outbound and inbound metrics count it)", async () => {
    const out = (await fetchIn(pods.client, "http://127.0.0.1:4191/metrics")).body;
    const inb = (await fetchIn(pods.app, "http://127.0.0.1:4191/metrics")).body;
    expect(metricSum(out, "request_total", { direction: "outbound" })).to.be.at.least(5);
    expect(metricSum(inb, "request_total", { direction: "inbound" })).to.be.at.least(5);
  });

  it("chunked responses stream through chunk by chunk", async () => {
    const r = await pods.agent.run<{
      status: number;
      body: string;
      firstMs: number;
      totalMs: number;
    }>("chunked");
    expect(r.status).to.equal(200);
    expect(r.body).to.equal("chunk-0\nchunk-1\nchunk-2\nchunk-3\nchunk-4\n");
    expect(r.totalMs - r.firstMs, "first chunk arrived only with the last").to.be.at.least(50);
  });

  it("16 MiB streams up and down intact", async () => {
    const r = await pods.agent.run("large", { mb: 16 }, 40_000);
    expect(r.up).to.deep.equal(r.expected);
    expect(r.down).to.deep.equal(r.expected);
  });

  it("HTTP/2 (h2c prior knowledge): a request, and a stream echoed message by message", async () => {
    const r = await pods.agent.run("h2");
    expect(r.get).to.deep.equal({ status: 200, proto: "h2", body: `h2 ok ${pods.link.a}:8081\n` });
    expect(r.streamed).to.deep.equal(["one", "two", "three"]);
  });

  it("gRPC unary with trailers, and a failing call's status", async () => {
    expect(await pods.agent.run("grpcUnary")).to.deep.equal({
      response: "echo:hi",
      code: 0,
      trailer: "unary",
    });
    const f = await pods.agent.run("grpcFail");
    expect(f).to.include({ code: 5, details: "no such thing", trailer: "fail" });
  });

  it("gRPC bidirectional streaming, message by message, with trailers", async () => {
    expect(await pods.agent.run("grpcBidi")).to.deep.equal({
      got: ["echo:a", "echo:b", "echo:c"],
      code: 0,
      trailer: "bidi-3",
    });
  });

  it("WebSocket upgrade and echo", async () => {
    const r = await pods.agent.run<{ status: number; echo: string }>("websocket");
    expect(r.status).to.equal(101);
    expect(r.echo).to.equal("echo:hello ws");
  });

  it("opaque TCP (binary client-first bytes) is piped both ways", async () => {
    const r = await pods.agent.run("opaque");
    expect(r.got).to.equal("\u0000\u0001\u0002\u00ffweft-opaque\n");
  });

  it("a server-speaks-first protocol on an opaque port (3306) does not wait for detection", async () => {
    const r = await pods.agent.run<{ got: string; ms: number }>("serverFirst");
    expect(r.got).to.equal("220 weft server speaks first\r\n");
    expect(r.ms).to.be.below(1000);
  });

  it("an unreachable upstream answers 502 with l5d-proxy-error", async () => {
    const r = await pods.agent.run<{ status: number; error: string | null }>("unreachable");
    expect(r.status).to.equal(502);
    expect(r.error).to.be.a("string").and.not.equal("");
  });

  it("SIGTERM drains the inbound proxy under load: every request sent before it succeeds", async () => {
    const app = pods.proxies.get(pods.app)!;
    const load = pods.agent.run<{ records: Rec[] }>(
      "drainLoad",
      { durationMs: 2500, concurrency: 10, slowMs: 300 },
      30_000,
    );
    await new Promise((r) => setTimeout(r, 1000));
    const killedAt = Date.now();
    app.child.kill("SIGTERM");
    const { records } = await load;
    const before = records.filter((r) => r.sentAt < killedAt);
    expect(before.length).to.be.at.least(10);
    const lost = before.filter((r) => r.status !== 200);
    expect(lost, JSON.stringify(lost.slice(0, 5))).to.deep.equal([]);
    const exited = await new Promise<number | null>((resolve) => {
      if (app.child.exitCode !== null) return resolve(app.child.exitCode);
      const t = setTimeout(() => resolve(null), 6000);
      app.child.once("exit", (code) => (clearTimeout(t), resolve(code)));
    });
    expect(exited, `proxy did not exit after drain; stderr: ${app.stderr().slice(-1000)}`).to.equal(
      0,
    );
  });
});

describe("the proxy without its SO_ORIGINAL_DST addon (netns)", function () {
  this.timeout(60_000);
  const pods = new TwoPods();

  before(async function () {
    await requireNetns(this);
    await pods.setUp();
  });
  after(() => pods.tearDown());

  it("still starts, answers /live, and says why it cannot intercept", async () => {
    const bundle = await buildProxyBundle();
    fs.rmSync(path.join(path.dirname(bundle), "native"), { recursive: true, force: true });
    const proxy = pods.startProxy(pods.app, bundle, { WEFT_PROXY_LOG: "info" });
    await waitHttp(pods.app, "http://127.0.0.1:4191/live");
    const deadline = Date.now() + 5000;
    while (!proxy.stderr().includes("original_dst.node") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(proxy.stderr()).to.match(/cannot intercept/i);
    expect(proxy.stderr()).to.contain("original_dst.node").and.contain("proxy/native/build.sh");
  });
});
