import { expect } from "chai";
import * as net from "node:net";
import { ProxyMetrics } from "../metrics/metrics";
import { closeServer, listenOn } from "../testkit";
import { noTls } from "../tls/seam";
import { Http1Pool, type Upstream, type UpstreamOwner } from "./pool";

/** An owner that records the connections handed to it after waiting. */
function waiter(): UpstreamOwner & { got: Upstream[] } {
  const got: Upstream[] = [];
  return {
    got,
    onUpstreamData: () => false,
    onUpstreamEnd: () => undefined,
    onUpstreamError: () => undefined,
    onUpstreamDrain: () => undefined,
    onUpstreamReady: (up) => got.push(up),
  };
}

const owner = waiter();

/** acquire, for tests where a connection must be given at once. */
function now(up: Upstream | undefined): Upstream {
  if (up === undefined) throw new Error("expected a connection, the request was made to wait");
  return up;
}

const connected = (u: Upstream): Promise<unknown> =>
  new Promise((r) => u.socket.once("connect", r));

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

  function pool(idleTimeoutMs: number, maxIdlePerEndpoint = 8, maxConnecting = 8): Http1Pool {
    return new Http1Pool({
      direction: "outbound",
      connectTimeoutMs: 1000,
      idleTimeoutMs,
      maxIdlePerEndpoint,
      maxConnectingPerEndpoint: maxConnecting,
      tls: noTls(true),
      metrics: new ProxyMetrics(),
    });
  }

  it("reuses a released connection to the same endpoint", async () => {
    const p = pool(5000);
    const a = now(p.acquire({ address: "127.0.0.1", port }, owner));
    await connected(a);
    p.release(a);
    const b = now(p.acquire({ address: "127.0.0.1", port }, owner));
    expect(b).to.equal(a);
    expect(b.reused).to.equal(true);
    const c = p.acquire({ address: "127.0.0.1", port }, owner);
    expect(c).to.not.equal(a);
    p.destroyAll();
  });

  it("closes connections idle longer than the idle timeout", async () => {
    const p = pool(100);
    const a = now(p.acquire({ address: "127.0.0.1", port }, owner));
    await connected(a);
    p.release(a);
    const deadline = Date.now() + 3000;
    while (closed === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(closed).to.equal(1);
    expect(p.acquire({ address: "127.0.0.1", port }, owner)).to.not.equal(a);
    p.destroyAll();
  });

  it("keeps at most maxIdlePerEndpoint idle connections", async () => {
    const p = pool(5000, 1);
    const a = now(p.acquire({ address: "127.0.0.1", port }, owner));
    const b = now(p.acquire({ address: "127.0.0.1", port }, owner));
    await Promise.all([a, b].map(connected));
    p.release(a);
    p.release(b);
    expect(b.socket.destroyed).to.equal(true);
    expect(p.acquire({ address: "127.0.0.1", port }, owner)).to.equal(a);
    expect(accepted).to.be.at.least(1);
    p.destroyAll();
  });

  it("opens at most maxConnecting at once; a waiting request gets the next released or opened one", async () => {
    const p = pool(5000, 8, 2);
    const ep = { address: "127.0.0.1", port };
    const a = now(p.acquire(ep, owner));
    const b = now(p.acquire(ep, owner));
    const w1 = waiter();
    const w2 = waiter();
    const w3 = waiter();
    expect(p.acquire(ep, w1)).to.equal(undefined);
    expect(p.acquire(ep, w2)).to.equal(undefined);
    expect(p.acquire(ep, w3)).to.equal(undefined);
    p.cancel(w3, `127.0.0.1:${port}`);
    await Promise.all([a, b].map(connected));
    // Each connection that became ready freed a slot: the two waiters got new connections.
    expect(w1.got).to.have.length(1);
    expect(w2.got).to.have.length(1);
    expect([a, b]).to.not.include(w1.got[0]);
    expect(w1.got[0].owner).to.equal(w1);
    const w4 = waiter();
    expect(p.acquire(ep, w4)).to.equal(undefined);
    p.release(a);
    expect(w4.got).to.deep.equal([a]);
    expect(a.owner).to.equal(w4);
    expect(w3.got, "cancelled").to.have.length(0);
    p.destroyAll();
  });
});
