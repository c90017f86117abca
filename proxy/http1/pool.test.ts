import { expect } from "chai";
import * as net from "node:net";
import { ProxyMetrics } from "../metrics/metrics";
import { closeServer, listenOn } from "../testkit";
import { noTls } from "../tls/seam";
import { Http1Pool, type UpstreamOwner } from "./pool";

const owner: UpstreamOwner = {
  onUpstreamData: () => undefined,
  onUpstreamEnd: () => undefined,
  onUpstreamError: () => undefined,
  onUpstreamDrain: () => undefined,
};

describe("HTTP/1 upstream pool", () => {
  let server: net.Server;
  let port: number;
  let accepted = 0;
  let closed = 0;

  beforeEach(async () => {
    accepted = 0;
    closed = 0;
    server = net.createServer((s) => {
      accepted++;
      s.on("close", () => closed++);
    });
    port = await listenOn(server);
  });
  afterEach(() => closeServer(server));

  function pool(idleTimeoutMs: number, maxIdlePerEndpoint = 8): Http1Pool {
    return new Http1Pool({
      direction: "outbound",
      connectTimeoutMs: 1000,
      idleTimeoutMs,
      maxIdlePerEndpoint,
      tls: noTls(true),
      metrics: new ProxyMetrics(),
    });
  }

  it("reuses a released connection to the same endpoint", async () => {
    const p = pool(5000);
    const a = p.acquire({ address: "127.0.0.1", port }, owner);
    await new Promise((r) => a.socket.once("connect", r));
    p.release(a);
    const b = p.acquire({ address: "127.0.0.1", port }, owner);
    expect(b).to.equal(a);
    expect(b.reused).to.equal(true);
    const c = p.acquire({ address: "127.0.0.1", port }, owner);
    expect(c).to.not.equal(a);
    p.destroyAll();
  });

  it("closes connections idle longer than the idle timeout", async () => {
    const p = pool(100);
    const a = p.acquire({ address: "127.0.0.1", port }, owner);
    await new Promise((r) => a.socket.once("connect", r));
    p.release(a);
    const deadline = Date.now() + 3000;
    while (closed === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(closed).to.equal(1);
    expect(p.acquire({ address: "127.0.0.1", port }, owner)).to.not.equal(a);
    p.destroyAll();
  });

  it("keeps at most maxIdlePerEndpoint idle connections", async () => {
    const p = pool(5000, 1);
    const a = p.acquire({ address: "127.0.0.1", port }, owner);
    const b = p.acquire({ address: "127.0.0.1", port }, owner);
    await Promise.all([a, b].map((u) => new Promise((r) => u.socket.once("connect", r))));
    p.release(a);
    p.release(b);
    expect(b.socket.destroyed).to.equal(true);
    expect(p.acquire({ address: "127.0.0.1", port }, owner)).to.equal(a);
    expect(accepted).to.be.at.least(1);
    p.destroyAll();
  });
});
