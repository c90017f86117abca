import { expect } from "chai";
import { createHash } from "node:crypto";
import * as http from "node:http";
import * as net from "node:net";
import type { RunningProxy } from "../proxy";
import {
  closeServer,
  listenOn,
  rawExchange,
  startTestProxy,
  wsFrame,
  wsReadFrame,
  webSocketServer,
} from "../testkit";

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  trailers: NodeJS.Dict<string>;
}

function request(
  port: number,
  opts: http.RequestOptions,
  body?: Buffer | string[],
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, ...opts }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          trailers: res.trailers,
        }),
      );
    });
    req.on("error", reject);
    if (Array.isArray(body)) for (const part of body) req.write(part);
    else if (body !== undefined) req.write(body);
    req.end();
  });
}

describe("HTTP/1.1 through the proxy", function () {
  this.timeout(20_000);
  let upstream: http.Server;
  let proxy: RunningProxy;
  let connections = 0;
  let seen: http.IncomingHttpHeaders[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  before(async () => {
    upstream = http.createServer((req, res) => {
      seen.push(req.headers);
      handle(req, res);
    });
    upstream.on("connection", () => connections++);
    const port = await listenOn(upstream);
    proxy = await startTestProxy({ targetPort: port });
  });

  after(async () => {
    agent.destroy();
    await proxy.close();
    await closeServer(upstream);
  });

  beforeEach(() => {
    connections = 0;
    seen = [];
  });

  it("reuses one upstream connection for keep-alive requests", async () => {
    for (let i = 0; i < 5; i++) {
      const r = await request(proxy.outbound.port, { path: `/hello/${i}`, agent });
      expect(r.status).to.equal(200);
      expect(r.body.toString()).to.equal(`hello /hello/${i}`);
    }
    expect(connections).to.equal(1);
  });

  it("relays chunked bodies both ways, with trailers", async () => {
    const r = await request(
      proxy.outbound.port,
      { method: "POST", path: "/echo-chunked", agent, headers: { te: "trailers" } },
      ["abc", "defg", "h".repeat(1000)],
    );
    expect(r.status).to.equal(200);
    expect(r.headers["transfer-encoding"]).to.equal("chunked");
    expect(r.body.toString()).to.equal("abcdefg" + "h".repeat(1000));
    expect(r.trailers["x-checksum"]).to.equal("done");
    expect(seen[0]["transfer-encoding"]).to.equal("chunked");
    expect(seen[0].te).to.equal("trailers");
  });

  it("streams a 20 MB body up and back without corrupting it", async () => {
    const size = 20 * 1024 * 1024;
    const block = Buffer.alloc(64 * 1024);
    for (let i = 0; i < block.length; i++) block[i] = (i * 31) & 0xff;
    const parts: Buffer[] = [];
    for (let n = 0; n < size; n += block.length) parts.push(block);
    const sent = createHash("sha256");
    parts.forEach((p) => sent.update(p));
    const r = await request(
      proxy.outbound.port,
      { method: "PUT", path: "/echo", agent, headers: { "content-length": size } },
      parts as never,
    );
    expect(r.status).to.equal(200);
    expect(r.body.length).to.equal(size);
    expect(createHash("sha256").update(r.body).digest("hex")).to.equal(sent.digest("hex"));
  });

  it("passes Expect: 100-continue through and then the body", async () => {
    const r = await new Promise<Reply>((resolve, reject) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port: proxy.outbound.port,
          method: "POST",
          path: "/continue",
          headers: { expect: "100-continue", "content-length": 5 },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (d: Buffer) => chunks.push(d));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks),
              trailers: {},
            }),
          );
        },
      );
      req.on("continue", () => req.end("hello"));
      req.on("error", reject);
    });
    expect(r.status).to.equal(200);
    expect(r.body.toString()).to.equal("continued:hello");
  });

  it("handles HEAD, 204 and 304 without bodies and keeps the connection usable", async () => {
    const head = await request(proxy.outbound.port, { method: "HEAD", path: "/hello/x", agent });
    expect(head.status).to.equal(200);
    expect(head.headers["content-length"]).to.equal("14");
    expect(head.body.length).to.equal(0);
    expect((await request(proxy.outbound.port, { path: "/status/204", agent })).status).to.equal(
      204,
    );
    expect((await request(proxy.outbound.port, { path: "/status/304", agent })).status).to.equal(
      304,
    );
    const after = await request(proxy.outbound.port, { path: "/hello/after", agent });
    expect(after.body.toString()).to.equal("hello /hello/after");
    expect(connections).to.be.at.most(1);
  });

  it("removes hop-by-hop fields and those named in Connection", async () => {
    const reply = await rawExchange(
      proxy.outbound.port,
      "GET /hello/h HTTP/1.1\r\nHost: svc\r\nConnection: x-private, close\r\nX-Private: secret\r\nKeep-Alive: timeout=5\r\n" +
        "Proxy-Connection: keep-alive\r\nTE: gzip\r\nX-Kept: yes\r\n\r\n",
    );
    expect(reply).to.match(/^HTTP\/1\.1 200 OK\r\n/);
    expect(reply.toLowerCase()).to.include("connection: close");
    const h = seen[0];
    expect(h["x-private"]).to.equal(undefined);
    expect(h["keep-alive"]).to.equal(undefined);
    expect(h["proxy-connection"]).to.equal(undefined);
    expect(h.te).to.equal(undefined);
    expect(h.connection).to.not.equal("close");
    expect(h["x-kept"]).to.equal("yes");
  });

  it("answers pipelined requests in order", async () => {
    const reply = await rawExchange(
      proxy.outbound.port,
      "GET /hello/1 HTTP/1.1\r\nHost: a\r\n\r\nGET /hello/2 HTTP/1.1\r\nHost: a\r\n\r\nGET /hello/3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    const bodies = reply.match(/hello \/hello\/\d/g);
    expect(bodies).to.deep.equal(["hello /hello/1", "hello /hello/2", "hello /hello/3"]);
  });

  it("answers a malformed request with 400 and l5d-proxy-error", async () => {
    const reply = await rawExchange(
      proxy.outbound.port,
      "GET /x HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n",
    );
    expect(reply).to.match(/^HTTP\/1\.1 400 /);
    expect(reply).to.match(/l5d-proxy-error: malformed request/);
  });

  it("rejects a request with both content-length and transfer-encoding", async () => {
    const reply = await rawExchange(
      proxy.outbound.port,
      "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    expect(reply).to.match(/^HTTP\/1\.1 400 /);
    expect(seen).to.have.length(0);
  });

  it("relays a response delimited by the upstream closing", async () => {
    const reply = await rawExchange(
      proxy.outbound.port,
      "GET /until-close HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    expect(reply).to.match(/^HTTP\/1\.1 200 /);
    expect(reply.toLowerCase()).to.include("connection: close");
    expect(reply.endsWith("streamed until close")).to.equal(true);
  });

  it("keeps the client connection when the upstream closes its own after each response", async () => {
    const opened = async () => {
      const text = await proxy.metrics.registry.metrics();
      return Number(
        /tcp_open_total\{direction="outbound",peer="src",[^}]*\} (\d+)/.exec(text)?.[1] ?? 0,
      );
    };
    await request(proxy.outbound.port, { path: "/hello/warm", agent });
    const clientsBefore = await opened();
    const upstreamBefore = connections;
    for (let i = 0; i < 3; i++) {
      const r = await request(proxy.outbound.port, { path: "/closing", agent });
      expect(r.status).to.equal(200);
      expect(r.headers.connection).to.not.equal("close");
    }
    expect(connections - upstreamBefore).to.be.at.least(2);
    expect(await opened()).to.equal(clientsBefore);
  });

  it("closes an HTTP/1.0 client connection that did not ask for keep-alive", async () => {
    const reply = await rawExchange(proxy.outbound.port, "GET /hello/old HTTP/1.0\r\n\r\n");
    expect(reply).to.match(/^HTTP\/1\.1 200 /);
    expect(reply.toLowerCase()).to.include("connection: close");
    expect(reply.endsWith("hello /hello/old")).to.equal(true);
  });

  it("answers 431 to a request head larger than the limit", async () => {
    const reply = await rawExchange(
      proxy.outbound.port,
      `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${"b".repeat(70_000)}\r\n\r\n`,
    );
    expect(reply).to.match(/^HTTP\/1\.1 431 /);
    expect(reply).to.include("l5d-proxy-error: request head too large");
  });

  it("tunnels a WebSocket upgrade and echoes frames", async () => {
    const messages = await webSocketEcho(proxy.outbound.port, ["hello", "x".repeat(300)]);
    expect(messages).to.deep.equal(["hello", "x".repeat(300)]);
  });
});

describe("HTTP/1.1 upstream failures", function () {
  this.timeout(10_000);

  it("answers 502 with l5d-proxy-error when the upstream refuses", async () => {
    const free = net.createServer();
    const port = await listenOn(free);
    await closeServer(free);
    const proxy = await startTestProxy({ targetPort: port });
    try {
      const r = await request(proxy.outbound.port, { path: "/" });
      expect(r.status).to.equal(502);
      expect(r.headers["l5d-proxy-error"]).to.match(/connection refused/);
      const metrics = await proxy.metrics.registry.metrics();
      expect(metrics).to.match(
        /response_total\{[^}]*status_code="502"[^}]*classification="failure"[^}]*error="connect"\} 1/,
      );
    } finally {
      await proxy.close();
    }
  });

  it("answers 502 and closes when an upload's upstream refuses, without hanging", async () => {
    const free = net.createServer();
    const port = await listenOn(free);
    await closeServer(free);
    const proxy = await startTestProxy({ targetPort: port });
    try {
      const body = Buffer.alloc(2 * 1024 * 1024, 1);
      const head = `POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n`;
      const reply = await rawExchange(
        proxy.outbound.port,
        Buffer.concat([Buffer.from(head), body]),
      );
      expect(reply).to.match(/^HTTP\/1\.1 502 /);
      expect(reply).to.include("connection: close");
    } finally {
      await proxy.close();
    }
  });

  it("answers 502 when the upstream resets before responding", async () => {
    const rude = net.createServer((s) => s.once("data", () => s.resetAndDestroy()));
    const port = await listenOn(rude);
    const proxy = await startTestProxy({ targetPort: port });
    try {
      const r = await request(proxy.outbound.port, { path: "/" });
      expect(r.status).to.equal(502);
      expect(r.headers["l5d-proxy-error"]).to.be.a("string");
    } finally {
      await proxy.close();
      await closeServer(rude);
    }
  });

  it("retries once when a pooled connection was closed by the upstream", async () => {
    const server = http.createServer((_req, res) => res.end("ok"));
    server.keepAliveTimeout = 50;
    const port = await listenOn(server);
    const proxy = await startTestProxy({ targetPort: port });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await request(proxy.outbound.port, { path: "/", agent });
        expect(r.status).to.equal(200);
        await new Promise((r) => setTimeout(r, 80));
      }
    } finally {
      agent.destroy();
      await proxy.close();
      await closeServer(server);
    }
  });
});

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = req.url ?? "/";
  if (url.startsWith("/hello")) {
    res.setHeader("content-length", Buffer.byteLength(`hello ${url}`));
    res.end(req.method === "HEAD" ? undefined : `hello ${url}`);
  } else if (url === "/echo") {
    res.setHeader("content-length", req.headers["content-length"] ?? "0");
    req.pipe(res);
  } else if (url === "/echo-chunked") {
    res.setHeader("trailer", "x-checksum");
    req.on("data", (d: Buffer) => res.write(d));
    req.on("end", () => {
      res.addTrailers({ "x-checksum": "done" });
      res.end();
    });
  } else if (url === "/continue") {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => res.end(`continued:${body}`));
  } else if (url === "/closing") {
    res.setHeader("connection", "close");
    res.end("bye");
  } else if (url.startsWith("/status/")) {
    res.statusCode = Number(url.slice(8));
    res.end();
  } else if (url === "/until-close") {
    const s = res.socket as net.Socket;
    s.end("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nstreamed until close");
  } else {
    res.statusCode = 404;
    res.end();
  }
}

async function webSocketEcho(proxyPort: number, messages: string[]): Promise<string[]> {
  const server = webSocketServer();
  const wsPort = await listenOn(server);
  const proxy = await startTestProxy({ targetPort: wsPort });
  try {
    return await new Promise<string[]>((resolve, reject) => {
      void proxyPort;
      const s = net.connect(proxy.outbound.port, "127.0.0.1");
      const got: string[] = [];
      let buf = Buffer.alloc(0);
      let upgraded = false;
      s.on("error", reject);
      s.write(
        "GET /chat HTTP/1.1\r\nHost: ws\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
      s.on("data", (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (!upgraded) {
          const end = buf.indexOf("\r\n\r\n");
          if (end === -1) return;
          const head = buf.subarray(0, end).toString();
          if (
            !/^HTTP\/1\.1 101 /.test(head) ||
            !/sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/i.test(head)
          )
            reject(new Error(head));
          upgraded = true;
          buf = buf.subarray(end + 4);
          for (const m of messages) s.write(wsFrame(Buffer.from(m), true));
        }
        for (let f = wsReadFrame(buf); f !== undefined; f = wsReadFrame(buf)) {
          buf = buf.subarray(f.size);
          got.push(f.payload.toString());
        }
        if (got.length === messages.length) {
          s.destroy();
          resolve(got);
        }
      });
    });
  } finally {
    await proxy.close();
    await closeServer(server);
  }
}
