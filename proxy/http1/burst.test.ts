import { expect } from "chai";
import * as http from "node:http";
import type { RunningProxy } from "../proxy";
import { closeServer, listenOn, startTestProxy } from "../testkit";

function post(port: number, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, method: "POST", path: "/echo", agent: false },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", reject);
    // Head first, body a moment later: the body arrives while the request may be waiting.
    req.flushHeaders();
    setTimeout(() => req.end(body), 5);
  });
}

describe("a burst of new clients (HTTP/1, loopback)", function () {
  this.timeout(20_000);
  let upstream: http.Server;
  let proxy: RunningProxy;
  let upstreamConnections = 0;

  before(async () => {
    upstream = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on("data", (d: Buffer) => parts.push(d));
      req.on("end", () => setTimeout(() => res.end(Buffer.concat(parts)), 10));
    });
    upstream.on("connection", () => upstreamConnections++);
    // One connect at a time, so most requests of the burst wait for a connection.
    proxy = await startTestProxy({
      targetPort: await listenOn(upstream),
      options: { http1MaxConnectingPerEndpoint: 1 },
    });
  });
  after(async () => {
    await proxy.close();
    await closeServer(upstream);
  });

  it("answers every request, bodies intact (most wait for a connection to open or come back)", async () => {
    const n = 120;
    const replies = await Promise.all(
      Array.from({ length: n }, (_, i) => post(proxy.outbound.port, `body-${i}`)),
    );
    expect(replies.map((r) => r.status)).to.deep.equal(Array(n).fill(200));
    expect(replies.map((r) => r.body)).to.deep.equal(
      Array.from({ length: n }, (_, i) => `body-${i}`),
    );
    expect(upstreamConnections).to.be.greaterThan(0);
  });
});
