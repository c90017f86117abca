// Opaque TCP through discovery on loopback: a real destination server describes a Service whose
// endpoints are real TCP servers; connections to its cluster IP through the proxy are balanced
// by L4 P2C (open connections × connect latency) and move on from an endpoint that refuses.
import { expect } from "chai";
import * as net from "node:net";
import { event, serviceObject, sliceObject } from "../../operator/destination/fixtures";
import {
  DEFAULT_OPTIONS,
  startDestination,
  type RunningDestination,
} from "../../operator/destination/main";
import { FeedWatchSource } from "../../operator/destination/watch";
import { loadConfig } from "../config";
import { ProxyMetrics } from "../metrics/metrics";
import type { RunningProxy } from "../proxy";
import type { DiscoveryStack } from "../routes/stack";
import { closeServer, listenOn, startDiscoveryProxy, testEnv } from "../testkit";
import { noTls } from "../tls/seam";

interface TcpBackend {
  readonly id: string;
  readonly server: net.Server;
  readonly port: number;
}

/** A server that greets each connection with its id and keeps it open. */
async function tcpBackend(id: string): Promise<TcpBackend> {
  const server = net.createServer((c) => {
    c.on("error", () => undefined);
    c.write(id);
  });
  return { id, server, port: await listenOn(server) };
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  const port = await listenOn(s);
  await closeServer(s);
  return port;
}

function publish(feed: FeedWatchSource, name: string, clusterIP: string, ports: number[]): void {
  feed.push(
    event("Service", serviceObject("shop", name, [{ name: "pg", port: 5432 }], { clusterIP })),
  );
  ports.forEach((port, i) =>
    feed.push(
      event(
        "EndpointSlice",
        sliceObject("shop", `${name}-${i}`, name, [{ name: "pg", port }], [{ ip: "127.0.0.1" }]),
      ),
    ),
  );
}

/** Connects through the proxy and reads the greeting; the connection stays open. */
function greet(port: number, open: net.Socket[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    open.push(s);
    s.once("data", (d) => resolve(String(d)));
    s.once("error", reject);
    s.once("close", () => resolve(""));
  });
}

function counts(ids: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of ids) out[id] = (out[id] ?? 0) + 1;
  return out;
}

describe("opaque TCP balanced through discovery (loopback, real destination)", function () {
  this.timeout(30_000);
  const feed = new FeedWatchSource();
  const servers: net.Server[] = [];
  const open: net.Socket[] = [];
  let dest: RunningDestination;

  before(async () => {
    dest = await startDestination({ ...DEFAULT_OPTIONS, addr: "127.0.0.1:0" }, feed);
  });

  after(async () => {
    for (const s of servers) await closeServer(s);
    await dest.stop();
  });

  afterEach(() => {
    for (const s of open.splice(0)) s.destroy();
  });

  /** A proxy whose outbound connections all go to `clusterIP:port` (5432 is opaque by default). */
  async function proxyTo(
    clusterIP: string,
    port = 5432,
  ): Promise<{ proxy: RunningProxy; stack: DiscoveryStack }> {
    const config = loadConfig(
      testEnv(port, {
        WEFT_PROXY_OUTBOUND_FIXED_TARGET: `${clusterIP}:${port}`,
        WEFT_PROXY_DESTINATION_SVC_ADDR: `127.0.0.1:${dest.port}`,
        WEFT_PROXY_DESTINATION_CONTEXT: '{"ns":"shop"}',
      }),
    );
    const metrics = new ProxyMetrics();
    const tls = noTls(true);
    return startDiscoveryProxy(config, { tls, metrics });
  }

  it("spreads long-lived connections over the endpoints by open connections", async () => {
    const bs = await Promise.all(["a", "b", "c"].map(tcpBackend));
    servers.push(...bs.map((b) => b.server));
    publish(
      feed,
      "db",
      "10.96.0.50",
      bs.map((b) => b.port),
    );
    const { proxy, stack } = await proxyTo("10.96.0.50");
    try {
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) ids.push(await greet(proxy.outbound.port, open));
      const c = counts(ids);
      expect(Object.keys(c).sort()).to.deep.equal(["a", "b", "c"]);
      for (const id of ["a", "b", "c"]) expect(c[id]).to.be.within(8, 12);
    } finally {
      await proxy.close();
      stack.close();
    }
  });

  it("moves on to another endpoint when a connect is refused", async () => {
    const bs = await Promise.all(["x", "y"].map(tcpBackend));
    servers.push(...bs.map((b) => b.server));
    publish(feed, "cache", "10.96.0.51", [await deadPort(), ...bs.map((b) => b.port)]);
    const { proxy, stack } = await proxyTo("10.96.0.51");
    try {
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push(await greet(proxy.outbound.port, open));
      expect(ids.filter((id) => id !== "x" && id !== "y")).to.deep.equal([]);
    } finally {
      await proxy.close();
      stack.close();
    }
  });

  it("skips protocol detection for a port the destination marks opaque (the server speaks first)", async () => {
    const smtp = await tcpBackend("220 ready");
    servers.push(smtp.server);
    const annotations = { "config.weft.io/opaque-ports": "2525" };
    const svc = serviceObject("shop", "mail", [{ name: "smtp", port: 2525 }], {
      clusterIP: "10.96.0.52",
      annotations,
    });
    feed.push(event("Service", svc));
    feed.push(
      event(
        "EndpointSlice",
        sliceObject(
          "shop",
          "mail-0",
          "mail",
          [{ name: "smtp", port: smtp.port }],
          [{ ip: "127.0.0.1" }],
        ),
      ),
    );
    const { proxy, stack } = await proxyTo("10.96.0.52", 2525);
    try {
      const t0 = performance.now();
      // The client sends nothing: with detection it would wait out the 10 s detect timeout.
      expect(await greet(proxy.outbound.port, open)).to.equal("220 ready");
      expect(performance.now() - t0).to.be.lessThan(5000);
    } finally {
      await proxy.close();
      stack.close();
    }
  });
});
