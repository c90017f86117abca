// The HTTP/1 engine with a route layer plugged in (loopback): a scripted exchange decides where
// each attempt goes and whether to retry; the engine must replay the request, enforce the
// deadline, and tell the exchange how each attempt ended.
import { expect } from "chai";
import * as http from "node:http";
import * as net from "node:net";
import { ProxyError } from "../errors";
import type { RunningProxy } from "../proxy";
import { closeServer, listenOn, rawExchange, startTestProxy } from "../testkit";
import { REPLAY_LIMIT, type Attempt, type Exchange, type RequestRouter } from "./exchange";
import type { Head } from "./head";

interface Seen {
  server: string;
  method: string;
  body: string;
}

/** An app that records each request and answers with `status(server)`. */
async function app(name: string, seen: Seen[], status: () => number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("latin1");
    req.on("data", (d: string) => (body += d));
    req.on("end", () => {
      seen.push({ server: name, method: req.method ?? "", body: body.slice(0, 40) });
      res.writeHead(status(), { "x-server": name }).end(name);
    });
  });
  await listenOn(server);
  return server;
}

/** A loopback port nothing listens on (it did a moment ago). */
async function refusedPort(): Promise<number> {
  const closed = net.createServer();
  const port = await listenOn(closed);
  await closeServer(closed);
  return port;
}

function portOf(s: net.Server): number {
  return (s.address() as net.AddressInfo).port;
}

interface Script {
  /** Endpoint ports, one per attempt (the last repeats). */
  ports: number[];
  timeoutMs?: number;
  /** Retry a response with this status. */
  retryStatus?: number;
  retryErrors?: boolean;
}

/** What the exchange was told, in order. */
type Event = string;

function scripted(script: Script, events: Event[], heads: Head[]): RequestRouter {
  return (head) => {
    heads.push(head);
    let attempt = 0;
    const x: Exchange = {
      timeoutMs: script.timeoutMs,
      next: () => {
        const port = script.ports[Math.min(attempt++, script.ports.length - 1)];
        const a: Attempt = { endpoint: { address: "127.0.0.1", port }, key: `127.0.0.1:${port}` };
        return Promise.resolve(a);
      },
      retryResponse: (status, replayable) => {
        events.push(`response ${status} replayable=${replayable}`);
        return status === script.retryStatus && replayable;
      },
      retryError: (_err, connected, replayable) => {
        events.push(`error connected=${connected} replayable=${replayable}`);
        return script.retryErrors === true && replayable;
      },
      failed: (err) => void events.push(`failed ${err?.label ?? "client gone"}`),
    };
    return Promise.resolve(x);
  };
}

function post(
  port: number,
  body: string,
  path = "/",
): Promise<{ status: number; server: string; error: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, method: "POST", path, agent: false, headers: { host: "web" } },
      (res) => {
        res.resume();
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            server: String(res.headers["x-server"] ?? ""),
            error: String(res.headers["l5d-proxy-error"] ?? ""),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("HTTP/1 engine with a route layer (loopback)", function () {
  this.timeout(15_000);
  const servers: net.Server[] = [];
  let proxy: RunningProxy | undefined;

  async function start(script: (ports: number[]) => Script, events: Event[], heads: Head[] = []) {
    const ports = servers.map(portOf);
    proxy = await startTestProxy({
      targetPort: 4567,
      options: { outboundHttp1: () => scripted(script(ports), events, heads) },
    });
    return proxy.outbound.port;
  }

  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
    for (const s of servers.splice(0)) await closeServer(s);
  });

  it("asks the router per request with the parsed head, and forwards to its endpoint", async () => {
    const seen: Seen[] = [];
    servers.push(await app("a", seen, () => 200));
    const events: Event[] = [];
    const heads: Head[] = [];
    const port = await start((p) => ({ ports: p }), events, heads);
    const r = await post(port, "hello", "/orders?x=1");
    expect(r).to.deep.include({ status: 200, server: "a" });
    expect(heads.map((h) => [h.method, h.target, h.host])).to.deep.equal([
      ["POST", "/orders?x=1", "web"],
    ]);
    expect(seen).to.deep.equal([{ server: "a", method: "POST", body: "hello" }]);
    expect(events).to.deep.equal(["response 200 replayable=true"]);
  });

  it("replays a request whose response is retried to the next endpoint, body and all", async () => {
    const seen: Seen[] = [];
    servers.push(await app("bad", seen, () => 503), await app("good", seen, () => 200));
    const events: Event[] = [];
    const port = await start((p) => ({ ports: p, retryStatus: 503 }), events);
    const body = "x".repeat(20_000);
    const r = await post(port, body);
    expect(r).to.deep.include({ status: 200, server: "good" });
    expect(seen.map((s) => [s.server, s.body.length])).to.deep.equal([
      ["bad", 40],
      ["good", 40],
    ]);
    expect(events).to.deep.equal(["response 503 replayable=true", "response 200 replayable=true"]);
  });

  it("does not offer a retry for a body larger than the replay limit", async () => {
    const seen: Seen[] = [];
    servers.push(await app("bad", seen, () => 503), await app("good", seen, () => 200));
    const events: Event[] = [];
    const port = await start((p) => ({ ports: p, retryStatus: 503 }), events);
    const r = await post(port, "y".repeat(REPLAY_LIMIT + 1));
    expect(r).to.deep.include({ status: 503, server: "bad" });
    expect(events).to.deep.equal(["response 503 replayable=false"]);
  });

  it("tries the next endpoint when the connection is refused, with the body kept so far", async () => {
    const seen: Seen[] = [];
    const refused = await refusedPort();
    servers.push(await app("good", seen, () => 200));
    const events: Event[] = [];
    const port = await start((p) => ({ ports: [refused, ...p], retryErrors: true }), events);
    const r = await post(port, "payload");
    expect(r).to.deep.include({ status: 200, server: "good" });
    expect(seen).to.deep.equal([{ server: "good", method: "POST", body: "payload" }]);
    expect(events).to.deep.equal([
      "error connected=false replayable=true",
      "response 200 replayable=true",
    ]);
  });

  it("sends the rest of a body still arriving to the endpoint tried after a refused one", async () => {
    const seen: Seen[] = [];
    const refused = await refusedPort();
    servers.push(await app("good", seen, () => 200));
    const events: Event[] = [];
    const port = await start((p) => ({ ports: [refused, ...p], retryErrors: true }), events);
    const client = net.connect(port, "127.0.0.1");
    let reply = "";
    client.on("data", (d: Buffer) => (reply += d.toString("latin1")));
    client.write("POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 10\r\n\r\nabc");
    await new Promise((r) => setTimeout(r, 100));
    client.write("defghij");
    const deadline = performance.now() + 3000;
    while (!reply.includes("good") && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    client.destroy();
    expect(reply).to.match(/^HTTP\/1.1 200 /);
    expect(seen).to.deep.equal([{ server: "good", method: "POST", body: "abcdefghij" }]);
    expect(events).to.deep.equal([
      "error connected=false replayable=true",
      "response 200 replayable=true",
    ]);
  });

  it("answers 502 and tells the exchange when it gives up on an attempt", async () => {
    const refused = await refusedPort();
    const events: Event[] = [];
    const port = await start(() => ({ ports: [refused] }), events);
    const r = await post(port, "payload");
    expect(r.status).to.equal(502);
    expect(r.error).to.match(/connection refused/);
    expect(events).to.deep.equal(["error connected=false replayable=true", "failed connect"]);
  });

  it("answers 504 at the deadline and closes the slow attempt", async () => {
    let upstreamClosed = false;
    const slow = net.createServer((s) => {
      s.on("close", () => (upstreamClosed = true));
      s.resume();
    });
    servers.push(slow);
    await listenOn(slow);
    const events: Event[] = [];
    const port = await start((p) => ({ ports: p, timeoutMs: 150 }), events);
    const t0 = performance.now();
    const r = await post(port, "");
    const ms = performance.now() - t0;
    expect(r.status).to.equal(504);
    expect(r.error).to.match(/150 ms/);
    expect(ms).to.be.within(140, 2000);
    expect(events).to.deep.equal(["failed timeout"]);
    await new Promise((res) => setTimeout(res, 50));
    expect(upstreamClosed).to.equal(true);
  });

  it("keeps the client connection for the next request after a proxy answer", async () => {
    const seen: Seen[] = [];
    servers.push(await app("a", seen, () => 200));
    const events: Event[] = [];
    const port = await start((p) => ({ ports: p }), events);
    const two = "GET /1 HTTP/1.1\r\nHost: web\r\n\r\nGET /2 HTTP/1.1\r\nHost: web\r\n\r\n";
    const reply = await rawExchange(port, two, (t) => t.split("HTTP/1.1 200").length === 3);
    expect(reply.split("HTTP/1.1 200").length).to.equal(3);
    expect(events).to.deep.equal(["response 200 replayable=true", "response 200 replayable=true"]);
  });

  it("answers a client that went away while its exchange waited, and tells the exchange once", async () => {
    const events: Event[] = [];
    let release: (() => void) | undefined;
    proxy = await startTestProxy({
      targetPort: 4567,
      options: {
        outboundHttp1: () => () =>
          Promise.resolve<Exchange>({
            timeoutMs: undefined,
            next: () =>
              new Promise((resolve) => {
                release = () => resolve(new ProxyError("WEFT_ERR_NO_ROUTE"));
              }),
            retryResponse: () => false,
            retryError: () => false,
            failed: (err) => void events.push(`failed ${err?.label ?? "client gone"}`),
          }),
      },
    });
    const s = net.connect(proxy.outbound.port, "127.0.0.1");
    s.write("GET / HTTP/1.1\r\nHost: web\r\n\r\n");
    const deadline = performance.now() + 2000;
    while (release === undefined && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    s.destroy();
    await new Promise((r) => setTimeout(r, 50));
    (release as () => void)();
    await new Promise((r) => setTimeout(r, 100));
    expect(events).to.have.length(1);
    expect(events[0]).to.match(/^failed (unroutable|client gone)$/);
  });
});
