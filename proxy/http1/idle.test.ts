import { expect } from "chai";
import * as http from "node:http";
import * as net from "node:net";
import type { RunningProxy } from "../proxy";
import { closeServer, listenOn, startTestProxy } from "../testkit";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One client connection: sends a GET and reads its response (the upstream sets content-length). */
class Client {
  readonly socket: net.Socket;
  ended = false;
  readonly closed: Promise<void>;
  private buf = "";
  private waiting: ((text: string) => void) | undefined;

  constructor(port: number) {
    this.socket = net.connect(port, "127.0.0.1");
    this.socket.setEncoding("latin1");
    this.socket.on("data", (d: string) => this.onData(d));
    this.socket.on("end", () => (this.ended = true));
    this.socket.on("error", () => undefined);
    this.closed = new Promise((r) => this.socket.once("close", () => r()));
  }

  get(path: string): Promise<string> {
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: idle.test\r\n\r\n`);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  private onData(d: string): void {
    this.buf += d;
    const m = /\r\ncontent-length: (\d+)\r\n/i.exec(this.buf);
    const headEnd = this.buf.indexOf("\r\n\r\n");
    if (!m || headEnd < 0 || this.buf.length < headEnd + 4 + Number(m[1])) return;
    const text = this.buf.slice(0, headEnd + 4 + Number(m[1]));
    this.buf = this.buf.slice(text.length);
    this.waiting?.(text);
  }
}

describe("HTTP/1 idle timeouts (loopback)", function () {
  this.timeout(10_000);
  let upstream: http.Server;
  let proxy: RunningProxy;
  const upstreamConns: net.Socket[] = [];

  before(async () => {
    upstream = http.createServer((req, res) => {
      const delay = req.url === "/slow" ? 600 : 0;
      // The body names the upstream connection, so a test sees which one served it.
      setTimeout(() => res.end(`conn-${upstreamConns.indexOf(req.socket)}`), delay);
    });
    upstream.keepAliveTimeout = 60_000;
    upstream.on("connection", (s: net.Socket) => upstreamConns.push(s));
    const port = await listenOn(upstream);
    proxy = await startTestProxy({
      targetPort: port,
      env: {
        WEFT_PROXY_HTTP1_CLIENT_IDLE_TIMEOUT: "200ms",
        WEFT_PROXY_HTTP1_POOL_IDLE_TIMEOUT: "200ms",
      },
    });
  });
  after(async () => {
    await proxy.close();
    await closeServer(upstream);
  });

  it("closes a client keep-alive connection left idle after its request", async () => {
    const c = new Client(proxy.outbound.port);
    expect(await c.get("/")).to.match(/^HTTP\/1\.1 200 /);
    await c.closed;
    expect(c.ended, "the proxy ended it (FIN), not a reset").to.equal(true);
  });

  it("keeps a client connection that sends requests more often than the timeout", async () => {
    const c = new Client(proxy.outbound.port);
    for (let i = 0; i < 8; i++) {
      expect(await c.get(`/${i}`)).to.match(/^HTTP\/1\.1 200 /);
      await sleep(60);
    }
    expect(c.ended).to.equal(false);
    c.socket.destroy();
  });

  it("does not close a connection whose response takes longer than the timeout", async () => {
    const c = new Client(proxy.outbound.port);
    expect(await c.get("/slow")).to.match(/^HTTP\/1\.1 200 /);
    expect(c.ended).to.equal(false);
    c.socket.destroy();
  });

  it("closes an idle pooled upstream connection, and keeps one in use", async () => {
    const c = new Client(proxy.outbound.port);
    const served = new Set<string>();
    for (let i = 0; i < 8; i++) {
      served.add((await c.get(`/${i}`)).split("\r\n\r\n")[1]);
      await sleep(60);
    }
    expect(served.size, "one upstream connection served them all").to.equal(1);
    const used = upstreamConns[Number([...served][0].slice("conn-".length))];
    expect(used.destroyed).to.equal(false);
    c.socket.destroy();
    await new Promise((r) => used.once("close", r));
  });
});
