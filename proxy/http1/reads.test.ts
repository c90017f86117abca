import { expect } from "chai";
import * as http from "node:http";
import * as net from "node:net";
import { Logger } from "../log";
import { ProxyMetrics } from "../metrics/metrics";
import { closeServer, listenOn } from "../testkit";
import { noTls } from "../tls/seam";
import { Http1Connection } from "./connection";
import { Http1Pool } from "./pool";

// The upstream connections' read memory is read into again once a response's bytes have left the
// proxy. These tests hold response bytes in the proxy (a corked client socket) while the same
// upstream connection carries other responses, and check every byte that arrives.

/** The bytes of /bytes/<seed>/<size>: the same for a request and its check. */
function bytesFor(seed: number, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Writes a body in small pieces, one per turn: the proxy reads it in reads far below a slab. */
function pacedBody(res: http.ServerResponse, body: Buffer): void {
  let at = 0;
  const next = (): void => {
    if (at >= body.length) return void res.end();
    const n = Math.min(body.length - at, 300 + ((at * 7919) % 1500));
    res.write(body.subarray(at, at + n));
    at += n;
    setTimeout(next, 1);
  };
  next();
}

/** Sends one request on `socket` and reads one response of content-length bytes. */
function exchange(socket: net.Socket, path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      got = Buffer.concat([got, c]);
      const end = got.indexOf("\r\n\r\n");
      if (end < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(got.toString("latin1", 0, end))?.[1]);
      if (got.length < end + 4 + length) return;
      socket.removeListener("data", onData);
      socket.removeListener("error", reject);
      resolve(got.subarray(end + 4));
    };
    socket.on("data", onData);
    socket.on("error", reject);
    socket.write(`GET ${path} HTTP/1.1\r\nhost: a\r\n\r\n`);
  });
}

/** An HTTP/1 engine in front of 127.0.0.1:`port` over a pool of one upstream connection. */
async function proxyTo(
  port: number,
  accepted: net.Socket[] = [],
): Promise<{ front: net.Server; pool: Http1Pool; frontPort: number }> {
  const pool = new Http1Pool({
    direction: "outbound",
    connectTimeoutMs: 1000,
    idleTimeoutMs: 10_000,
    // One upstream connection, so every response comes over it.
    maxIdlePerEndpoint: 1,
    maxConnectingPerEndpoint: 1,
    tls: noTls(true),
    metrics: new ProxyMetrics(),
  });
  const env = { pool, log: new Logger("error"), maxHeadBytes: 64 * 1024 };
  const scope = new ProxyMetrics().http("outbound", "127.0.0.1", { tls: "disabled" });
  const front = net.createServer((socket) => {
    accepted.push(socket);
    const conn = new Http1Connection(socket, env, { address: "127.0.0.1", port }, scope);
    conn.start(Buffer.alloc(0));
  });
  return { front, pool, frontPort: await listenOn(front) };
}

describe("HTTP/1 upstream read memory", function () {
  this.timeout(20_000);
  let upstream: http.Server;
  let front: net.Server;
  let pool: Http1Pool;
  /** The proxy's side of each client connection, in the order they were accepted. */
  const accepted: net.Socket[] = [];
  let upstreamConnections = 0;
  /** Resolved when the upstream has written the whole of a response, by seed. */
  const finished = new Map<number, () => void>();

  before(async () => {
    upstream = http.createServer((req, res) => {
      const [, , seed, size] = (req.url ?? "").split("/");
      const body = bytesFor(Number(seed), Number(size));
      res.setHeader("content-length", body.length);
      res.on("finish", () => finished.get(Number(seed))?.());
      pacedBody(res, body);
    });
    upstream.on("connection", () => upstreamConnections++);
    ({ front, pool } = await proxyTo(await listenOn(upstream), accepted));
  });

  after(async () => {
    pool.destroyAll();
    await closeServer(front);
    await closeServer(upstream);
  });

  it("never reads over response bytes still queued to one client while the connection serves another", async () => {
    const frontPort = (front.address() as net.AddressInfo).port;
    const slow = net.connect(frontPort, "127.0.0.1");
    const fast = net.connect(frontPort, "127.0.0.1");
    await Promise.all([slow, fast].map((s) => new Promise((r) => s.once("connect", r))));
    while (accepted.length < 2) await new Promise((r) => setTimeout(r, 5));
    // The slow client's responses stay in the proxy, written but not sent, until it is uncorked.
    accepted[0].cork();
    try {
      const written = new Promise<void>((r) => finished.set(1, r));
      const slowResponse = exchange(slow, "/bytes/1/12000");
      // The response must be complete in the proxy (its upstream connection free again) before
      // the other client's requests take the same connection.
      await written;
      await new Promise((r) => setTimeout(r, 50));
      for (let i = 0; i < 20; i++) {
        const size = 1000 + i * 700;
        const body = await exchange(fast, `/bytes/${100 + i}/${size}`);
        expect(body.equals(bytesFor(100 + i, size)), `fast response ${i}`).to.equal(true);
      }
      accepted[0].uncork();
      const body = await slowResponse;
      expect(body.equals(bytesFor(1, 12000)), "the queued response").to.equal(true);
      expect(upstreamConnections).to.equal(1);
    } finally {
      slow.destroy();
      fast.destroy();
    }
  });

  it("keeps a response head that arrived in pieces intact while the next piece is read", async () => {
    const pieces = [
      "HTTP/1.1 200 OK\r\ncontent-",
      "type: text/plain\r\nx-long: ",
      "v".repeat(3000),
      "\r\ncontent-length: 5\r\n\r\nhello",
    ];
    const split = net.createServer((s) =>
      s.on("data", () => {
        let i = 0;
        const next = (): void => {
          s.write(pieces[i++]);
          if (i < pieces.length) setTimeout(next, 5);
        };
        next();
      }),
    );
    const { front: f, pool: p, frontPort } = await proxyTo(await listenOn(split));
    const client = net.connect(frontPort, "127.0.0.1");
    try {
      for (let i = 0; i < 3; i++) {
        const body = await exchange(client, "/");
        expect(body.toString()).to.equal("hello");
      }
    } finally {
      client.destroy();
      p.destroyAll();
      await closeServer(f);
      await closeServer(split);
    }
  });
});
