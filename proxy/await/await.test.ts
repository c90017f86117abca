import { expect } from "chai";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { decideInjection } from "../../operator/inject/decide";
import { testContext, testNamespace, testPod } from "../../operator/inject/fixtures";
import { injectPod } from "../../operator/inject/patch";
import {
  adminPort,
  AwaitTimeoutError,
  AwaitUsageError,
  awaitReady,
  parseAwaitArgs,
  probeReady,
  runAwait,
  type AwaitIo,
} from "./await";

/** A stand-in admin server whose /ready turns 200 after `readyAfter` requests. */
async function fakeAdmin(
  readyAfter: number,
): Promise<{ server: http.Server; port: number; hits: () => number }> {
  let hits = 0;
  const server = http.createServer((req, res) => {
    if (req.url !== "/ready") return void res.writeHead(404).end();
    hits += 1;
    res.writeHead(hits > readyAfter ? 200 : 503).end(hits > readyAfter ? "ready\n" : "not ready\n");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as AddressInfo).port, hits: () => hits };
}

/** A port nothing listens on: bind one, then close it. */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function captureIo(env: NodeJS.ProcessEnv): AwaitIo & { lines: string[] } {
  const lines: string[] = [];
  return { env, lines, out: (l) => lines.push(l), err: (l) => lines.push(l) };
}

describe("weft-proxy await", () => {
  describe("parseAwaitArgs", () => {
    it("defaults to two minutes", () => {
      expect(parseAwaitArgs([])).to.deep.equal({ timeoutMs: 120_000 });
    });

    it("reads the injector's --timeout=2m and the spaced form", () => {
      expect(parseAwaitArgs(["--timeout=2m"])).to.deep.equal({ timeoutMs: 120_000 });
      expect(parseAwaitArgs(["--timeout", "1.5s"])).to.deep.equal({ timeoutMs: 1500 });
    });

    it("rejects bad durations and stray arguments with a coded error", () => {
      for (const argv of [
        ["--timeout=soon"],
        ["--timeout=0s"],
        ["--timeout"],
        ["now"],
        ["--timeout=1s", "x"],
      ]) {
        expect(() => parseAwaitArgs(argv), argv.join(" "))
          .to.throw(AwaitUsageError)
          .with.property("code", "WEFT_ERR_AWAIT_USAGE");
      }
    });
  });

  it("accepts the postStart hook the injector writes when native sidecars are off", () => {
    const ctx = testContext();
    const pod = testPod({
      "weft.io/inject": "enabled",
      "config.weft.io/proxy-enable-native-sidecar": "false",
    });
    const d = decideInjection(pod, "shop", testNamespace("shop"), ctx);
    if (!d.inject) throw new Error(d.reason);
    const proxy = injectPod(pod, "shop", d.mode, d.settings, ctx).spec!.containers[0];
    const command = proxy.lifecycle!.postStart!.exec!.command!;
    expect(command.slice(0, 2)).to.deep.equal(["weft-proxy", "await"]);
    expect(parseAwaitArgs(command.slice(2))).to.deep.equal({ timeoutMs: 120_000 });
  });

  describe("adminPort", () => {
    it("is 4191 unless WEFT_PROXY_ADMIN_LISTEN_ADDR says otherwise", () => {
      expect(adminPort({})).to.equal(4191);
      expect(adminPort({ WEFT_PROXY_ADMIN_LISTEN_ADDR: "0.0.0.0:9991" })).to.equal(9991);
      expect(adminPort({ WEFT_PROXY_ADMIN_LISTEN_ADDR: "[::]:4192" })).to.equal(4192);
    });

    it("names the variable when it cannot be read", () => {
      expect(() => adminPort({ WEFT_PROXY_ADMIN_LISTEN_ADDR: "4191" })).to.throw(
        /WEFT_PROXY_ADMIN_LISTEN_ADDR must be host:port/,
      );
    });
  });

  describe("against a local HTTP server", () => {
    const servers: http.Server[] = [];
    afterEach(async () => {
      await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
    });

    it("probeReady reports the status code, or the socket error", async () => {
      const admin = await fakeAdmin(0);
      servers.push(admin.server);
      expect(await probeReady(admin.port)).to.equal(200);
      expect(await probeReady(await closedPort())).to.equal("ECONNREFUSED");
    });

    it("probeReady gives up on a server that never answers", async () => {
      const silent = http.createServer(() => undefined);
      await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
      servers.push(silent);
      expect(await probeReady((silent.address() as AddressInfo).port, 100)).to.equal("ETIMEDOUT");
      silent.closeAllConnections();
    });

    it("polls through 503s until /ready answers 200", async () => {
      const admin = await fakeAdmin(3);
      servers.push(admin.server);
      await awaitReady({ port: admin.port, timeoutMs: 5000, intervalMs: 10 });
      expect(admin.hits()).to.equal(4);
    });

    it("times out with the last answer when the proxy never becomes ready", async () => {
      const admin = await fakeAdmin(Number.POSITIVE_INFINITY);
      servers.push(admin.server);
      const started = Date.now();
      const err = await awaitReady({ port: admin.port, timeoutMs: 300, intervalMs: 20 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(AwaitTimeoutError);
      expect((err as AwaitTimeoutError).code).to.equal("WEFT_ERR_AWAIT_TIMEOUT");
      expect((err as Error).message).to.contain("last: HTTP 503");
      expect(Date.now() - started).to.be.within(280, 1500);
    });

    it("runAwait exits 0 once ready, reading the port from the environment", async () => {
      const admin = await fakeAdmin(1);
      servers.push(admin.server);
      const io = captureIo({ WEFT_PROXY_ADMIN_LISTEN_ADDR: `0.0.0.0:${admin.port}` });
      expect(await runAwait(["--timeout=5s"], io)).to.equal(0);
      expect(io.lines.join("\n")).to.match(/the proxy is ready \(\d+ ms\)/);
    });

    it("runAwait exits 1 with a clear message when nothing listens", async () => {
      const port = await closedPort();
      const io = captureIo({ WEFT_PROXY_ADMIN_LISTEN_ADDR: `127.0.0.1:${port}` });
      expect(await runAwait(["--timeout=300ms"], io)).to.equal(1);
      expect(io.lines.join("\n")).to.contain(
        `not ready after 300 ms (http://127.0.0.1:${port}/ready, last: ECONNREFUSED) [WEFT_ERR_AWAIT_TIMEOUT]`,
      );
    });

    it("runAwait exits 2 on bad usage", async () => {
      const io = captureIo({});
      expect(await runAwait(["--timeout=never"], io)).to.equal(2);
      expect(io.lines.join("\n")).to.contain("[WEFT_ERR_AWAIT_USAGE]");
    });
  });
});
