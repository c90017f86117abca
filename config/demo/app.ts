// The Weft demo: three small services and a traffic generator, one program chosen by argv.
//   web      HTTP/1.1 on :8080 — GET /books/<id> asks `books` (gRPC) and `stock` (TCP)
//   books    gRPC on :9090 — demo.Books/Get, JSON-encoded messages
//   stock    plain TCP on :7000 — "GET <id>\n" → "<count>\n"
//   traffic  GETs web at a bounded rate (TRAFFIC_RPS, default 5, at most 50)

import * as grpc from "@grpc/grpc-js";
import { createServer, request } from "node:http";
import { connect, createServer as createTcpServer } from "node:net";

const json = {
  serialize: (v: unknown): Buffer => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer): unknown => JSON.parse(b.toString()),
};

const BOOKS: grpc.ServiceDefinition = {
  Get: {
    path: "/demo.Books/Get",
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};

const TITLES = ["Dune", "Neuromancer", "Snow Crash", "Hyperion", "Foundation"];

function books(port = 9090): void {
  const server = new grpc.Server();
  server.addService(BOOKS, {
    Get: (call: grpc.ServerUnaryCall<{ id: number }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const id = Number(call.request.id);
      if (!(id >= 0 && id < TITLES.length))
        return cb({ code: grpc.status.NOT_FOUND, details: `no book ${id}` });
      cb(null, { id, title: TITLES[id] });
    },
  });
  server.bindAsync(`0.0.0.0:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) throw err;
    console.log(`books: gRPC on :${port}`);
  });
}

function stock(port = 7000): void {
  createTcpServer((sock) => {
    let buf = "";
    sock.on("data", (d) => {
      buf += d.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const id = Number(buf.slice(0, i).replace(/^GET /, ""));
        buf = buf.slice(i + 1);
        sock.write(`${(id * 7 + 3) % 20}\n`);
      }
    });
    sock.on("error", () => sock.destroy());
  }).listen(port, () => console.log(`stock: TCP on :${port}`));
}

function askStock(host: string, id: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = connect(7000, host, () => sock.write(`GET ${id}\n`));
    sock.setTimeout(2000, () => sock.destroy(new Error("stock timed out")));
    sock.once("data", (d) => {
      resolve(Number(d.toString().trim()));
      sock.end();
    });
    sock.once("error", reject);
  });
}

function web(port = 8080): void {
  const Client = grpc.makeGenericClientConstructor(BOOKS, "Books");
  const client = new Client(
    process.env.BOOKS_ADDR ?? "books:9090",
    grpc.credentials.createInsecure(),
  ) as unknown as {
    Get(
      req: unknown,
      opts: grpc.CallOptions,
      cb: (err: grpc.ServiceError | null, res: unknown) => void,
    ): void;
  };
  const getBook = (id: number): Promise<unknown> =>
    new Promise((resolve, reject) =>
      client.Get({ id }, { deadline: Date.now() + 2000 }, (e, r) => (e ? reject(e) : resolve(r))),
    );
  createServer(async (req, res) => {
    const m = /^\/books\/(\d+)$/.exec(req.url ?? "");
    if (req.url === "/healthz") return res.end("ok");
    if (!m) return res.writeHead(404).end("try /books/<id>\n");
    try {
      const [book, count] = await Promise.all([
        getBook(Number(m[1])),
        askStock(process.env.STOCK_HOST ?? "stock", Number(m[1])),
      ]);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ book, stock: count }));
    } catch (err) {
      res.writeHead(502).end(`${String(err)}\n`);
    }
  }).listen(port, () => console.log(`web: HTTP/1.1 on :${port}`));
}

function traffic(): void {
  const rps = Math.min(50, Math.max(1, Number(process.env.TRAFFIC_RPS ?? 5)));
  const target = process.env.TRAFFIC_TARGET ?? "http://web:8080";
  const counts = { ok: 0, failed: 0, lastError: "" };
  const fail = (why: string): void => {
    counts.failed++;
    counts.lastError = why;
  };
  setInterval(() => {
    const id = Math.floor(Math.random() * 6);
    const req = request(`${target}/books/${id}`, { timeout: 3000 }, (res) => {
      res.resume();
      if ((res.statusCode ?? 500) < 500) counts.ok++;
      else fail(`HTTP ${res.statusCode} ${res.headers["l5d-proxy-error"] ?? ""}`.trim());
    });
    req.on("timeout", () => req.destroy(new Error("timed out after 3 s")));
    req.on("error", (err) => fail(err.message));
    req.end();
  }, 1000 / rps);
  setInterval(() => {
    const last = counts.lastError ? ` last error: ${counts.lastError}` : "";
    console.log(`traffic: ${rps} rps to ${target}: ok=${counts.ok} failed=${counts.failed}${last}`);
  }, 10000);
}

const roles: Record<string, () => void> = {
  web: () => web(),
  books: () => books(),
  stock: () => stock(),
  traffic,
};
const role = roles[process.argv[2] ?? ""];
if (!role) {
  console.error("usage: demo web|books|stock|traffic");
  process.exit(2);
}
role();
