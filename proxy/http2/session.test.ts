import { expect } from "chai";
import * as http2 from "node:http2";
import * as net from "node:net";
import {
  CLIENT_PREFACE,
  FLAG_END_HEADERS,
  FRAME_HEADERS,
  FrameReader,
  frame,
  goawayFrame,
  settingsFrame,
  type FrameSink,
} from "./frames";
import { headerValue } from "./headers";
import type { HeaderList } from "./hpack";
import { H2Session, STREAM_WINDOW, type H2Stream } from "./session";

/** A loopback server whose connections are served by our server session. */
async function ourServer(
  onStream: (s: H2Stream, h: HeaderList, end: boolean) => void,
): Promise<{ port: number; server: net.Server; sessions: H2Session[] }> {
  const sessions: H2Session[] = [];
  const server = net.createServer((socket) =>
    sessions.push(new H2Session(socket, "server", { onStream })),
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as net.AddressInfo).port, server, sessions };
}

/** A node:http2 server on loopback. */
async function nodeServer(
  onStream: (s: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders) => void,
  settings: http2.Settings = {},
): Promise<{ port: number; server: http2.Http2Server }> {
  const server = http2.createServer({ settings });
  server.on("stream", onStream);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as net.AddressInfo).port, server };
}

function clientSession(port: number): H2Session {
  return new H2Session(net.connect(port, "127.0.0.1"), "client");
}

/** Reads a whole response from our client stream. */
function collect(
  s: H2Stream,
): Promise<{ head: HeaderList; body: Buffer; trailers?: HeaderList; code: number }> {
  return new Promise((resolve) => {
    let head: HeaderList = [];
    let trailers: HeaderList | undefined;
    const parts: Buffer[] = [];
    s.onHead = (h) => (head = h);
    s.onData = (c) => {
      parts.push(Buffer.from(c));
      s.consume(c.length);
    };
    s.onTrailers = (t) => (trailers = t);
    s.onClose = (code) => resolve({ head, body: Buffer.concat(parts), trailers, code });
  });
}

function get(path: string): HeaderList {
  return [":method", "GET", ":scheme", "http", ":path", path, ":authority", "test"];
}

function close(server: net.Server): Promise<void> {
  return new Promise((r) => server.close(() => r()));
}

describe("HTTP/2 frame reader", () => {
  it("delivers the same frames however the bytes are split", () => {
    const bytes = Buffer.concat([
      settingsFrame([[4, 100]]),
      frame(FRAME_HEADERS, FLAG_END_HEADERS, 1, Buffer.from("abc")),
      frame(0, 1, 1, Buffer.from("hello world")),
      goawayFrame(1, 0),
    ]);
    for (let cut = 1; cut < bytes.length; cut++) {
      const seen: string[] = [];
      const sink: FrameSink = {
        frame: (type, flags, id, payload) =>
          seen.push(`${type}/${flags}/${id}/${payload.toString("hex")}`),
        data: (id, chunk, end) => seen.push(`data/${id}/${chunk.toString()}/${end}`),
      };
      const reader = new FrameReader(sink);
      reader.push(bytes.subarray(0, cut));
      reader.push(bytes.subarray(cut));
      const joined = seen
        .join("|")
        .replace(/\|data\/1\/([^/]*)\/false\|data\/1\/([^/]*)\/true/, "|data/1/$1$2/true");
      expect(joined, `cut at ${cut}`).to.equal(
        "4/0/0/000400000064|1/4/1/616263|data/1/hello world/true|7/0/0/0000000100000000",
      );
    }
  });

  it("refuses a frame larger than the maximum frame size", () => {
    const reader = new FrameReader({ frame: () => undefined, data: () => undefined });
    const header = Buffer.from([0x00, 0x40, 0x01, 0, 0, 0, 0, 0, 1]);
    expect(() => reader.push(header)).to.throw(/frame of 16385 bytes/);
  });
});

describe("HTTP/2 server session, against node:http2's client", function () {
  this.timeout(10_000);
  let srv: Awaited<ReturnType<typeof ourServer>>;
  let client: http2.ClientHttp2Session;

  before(async () => {
    srv = await ourServer((s, h, end) => {
      const path = headerValue(h, ":path");
      if (path === "/reset") return s.reset(11);
      if (path === "/hang") return;
      s.sendHeaders([":status", "200", "x-path", path ?? ""], false);
      if (end) return s.sendTrailers(["x-done", "yes"]);
      // Echo: what is sent back is credited back, so flow control spans both directions.
      s.creditTo = s;
      s.onData = (c, e) => (e ? s.sendData(c, false) : s.sendData(c, false));
      s.onTrailers = () => s.sendTrailers(["x-done", "yes"]);
      const onData = s.onData;
      s.onData = (c, e) => {
        onData(c, e);
        if (e) s.sendTrailers(["x-done", "yes"]);
      };
    });
    client = http2.connect(`http://127.0.0.1:${srv.port}`);
  });

  after(async () => {
    client.close();
    await close(srv.server);
  });

  function request(
    path: string,
    body?: Buffer,
  ): Promise<{
    headers: http2.IncomingHttpHeaders;
    body: Buffer;
    trailers?: http2.IncomingHttpHeaders;
    code?: number;
  }> {
    return new Promise((resolve) => {
      const req = client.request(
        { ":path": path, ":method": body ? "POST" : "GET" },
        { endStream: !body },
      );
      let headers: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders | undefined;
      const parts: Buffer[] = [];
      req.on("response", (h) => (headers = h));
      req.on("trailers", (t) => (trailers = t));
      req.on("data", (c: Buffer) => parts.push(c));
      req.on("error", () => undefined);
      req.on("close", () =>
        resolve({ headers, body: Buffer.concat(parts), trailers, code: req.rstCode }),
      );
      if (body) req.end(body);
    });
  }

  it("answers a request with its head and trailers", async () => {
    const r = await request("/a");
    expect(r.headers[":status"]).to.equal(200);
    expect(r.headers["x-path"]).to.equal("/a");
    expect(r.trailers?.["x-done"]).to.equal("yes");
  });

  it("echoes a 3 MB body, many times its flow-control windows", async () => {
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    for (let i = 0; i < body.length; i += 4096) body[i] = i & 0xff;
    const r = await request("/echo", body);
    expect(r.body.length).to.equal(body.length);
    expect(r.body.equals(body)).to.equal(true);
    expect(r.trailers?.["x-done"]).to.equal("yes");
  });

  it("runs 200 concurrent streams on one connection", async () => {
    const all = await Promise.all(Array.from({ length: 200 }, (_, i) => request(`/n${i}`)));
    expect(all.map((r) => r.headers["x-path"])).to.deep.equal(all.map((_, i) => `/n${i}`));
  });

  it("resets a stream with the code given", async () => {
    const r = await request("/reset");
    expect(r.code).to.equal(11);
  });

  it("hears a client's reset", async () => {
    const req = client.request({ ":path": "/hang" });
    req.on("error", () => undefined);
    await new Promise((r) => setTimeout(r, 50));
    const s = srv.sessions[0];
    const stream = [...s.streams.values()].at(-1) as H2Stream;
    const closed = new Promise<number>((r) => (stream.onClose = r));
    req.close(8);
    expect(await closed).to.equal(8);
  });

  it("answers PING", async () => {
    const ok = await new Promise<boolean>((r) => client.ping((err) => r(err === null)));
    expect(ok).to.equal(true);
  });
});

describe("HTTP/2 client session, against node:http2's server", function () {
  this.timeout(10_000);

  it("sends a request and reads the response, body and trailers", async () => {
    const { port, server } = await nodeServer((stream, h) => {
      stream.respond({ ":status": 201, "x-got": String(h[":path"]) }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end("done");
    });
    const session = clientSession(port);
    const r = await collect(session.request(get("/x"), true));
    expect(headerValue(r.head, ":status")).to.equal("201");
    expect(headerValue(r.head, "x-got")).to.equal("/x");
    expect(r.body.toString()).to.equal("done");
    expect(headerValue(r.trailers ?? [], "grpc-status")).to.equal("0");
    expect(r.code).to.equal(0);
    session.close();
    server.close();
  });

  it("streams a 2 MB request body under the server's flow control", async () => {
    const { port, server } = await nodeServer(
      (stream) => {
        let n = 0;
        stream.on("data", (c: Buffer) => (n += c.length));
        stream.on("end", () =>
          stream.respond({ ":status": 200, "x-bytes": String(n) }, { endStream: true }),
        );
      },
      { initialWindowSize: 16384 },
    );
    const session = clientSession(port);
    const s = session.request([":method", "POST", ...get("/up").slice(2)], false);
    const done = collect(s);
    for (let i = 0; i < 32; i++) s.sendData(Buffer.alloc(64 * 1024, i), i === 31);
    const r = await done;
    expect(headerValue(r.head, "x-bytes")).to.equal(String(2 * 1024 * 1024));
    session.close();
    server.close();
  });

  it("opens streams beyond the server's concurrency limit as earlier ones finish", async () => {
    let open = 0;
    let most = 0;
    const { port, server } = await nodeServer(
      (stream) => {
        most = Math.max(most, ++open);
        setTimeout(() => {
          open--;
          stream.respond({ ":status": 200 }, { endStream: true });
        }, 5);
      },
      { maxConcurrentStreams: 2 },
    );
    const session = clientSession(port);
    await new Promise<void>((r) => (session.onRemoteSettings = r));
    const all = await Promise.all(
      Array.from({ length: 8 }, () => collect(session.request(get("/c"), true))),
    );
    expect(all.every((r) => headerValue(r.head, ":status") === "200")).to.equal(true);
    expect(most).to.equal(2);
    session.close();
    server.close();
  });

  it("passes on a server's reset, and refuses streams above a GOAWAY's last stream", async () => {
    const { port, server } = await nodeServer((stream, h) => {
      stream.on("error", () => undefined);
      if (h[":path"] === "/reset") return stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      stream.session?.goaway(0, 1);
    });
    const session = clientSession(port);
    const reset = await collect(session.request(get("/reset"), true));
    expect(reset.code).to.equal(http2.constants.NGHTTP2_REFUSED_STREAM);
    let retired = false;
    session.onGoaway = () => (retired = true);
    const refused = await collect(session.request(get("/goaway"), true));
    expect(refused.code).to.equal(http2.constants.NGHTTP2_REFUSED_STREAM);
    expect(retired).to.equal(true);
    expect(() => session.request(get("/after"), true)).to.throw();
    session.destroy();
    server.close();
  });

  it("closes gracefully: GOAWAY, the open stream finishes, then the socket ends", async () => {
    let respond: () => void = () => undefined;
    const { port, server } = await nodeServer((stream) => {
      respond = () => stream.respond({ ":status": 200 }, { endStream: true });
    });
    const session = clientSession(port);
    const r = collect(session.request(get("/slow"), true));
    await new Promise((res) => setTimeout(res, 50));
    session.close();
    expect(session.closed).to.equal(false);
    respond();
    expect(headerValue((await r).head, ":status")).to.equal("200");
    expect(session.closed).to.equal(true);
    server.close();
  });
});

describe("HTTP/2 session protocol errors", () => {
  it("closes a connection that does not start with the client preface", async () => {
    const srv = await ourServer(() => undefined);
    const socket = net.connect(srv.port, "127.0.0.1");
    socket.on("error", () => undefined);
    socket.write("GET / HTTP/1.1\r\n\r\n".padEnd(30, " "));
    const got: Buffer[] = [];
    socket.on("data", (c: Buffer) => got.push(c));
    await new Promise((r) => socket.on("close", r));
    const bytes = Buffer.concat(got);
    // Our SETTINGS, its WINDOW_UPDATE, then GOAWAY with PROTOCOL_ERROR.
    expect(bytes.subarray(-4).readUInt32BE(0)).to.equal(1);
    expect(bytes[bytes.length - 17 + 3]).to.equal(0x7);
    await close(srv.server);
  });

  it("ends a connection that floods one header block with CONTINUATION frames", async () => {
    const srv = await ourServer(() => undefined);
    const socket = net.connect(srv.port, "127.0.0.1");
    socket.on("error", () => undefined);
    const got: Buffer[] = [];
    socket.on("data", (c: Buffer) => got.push(c));
    const empty = Array.from({ length: 100 }, () => frame(0x9, 0, 1));
    socket.write(
      Buffer.concat([
        CLIENT_PREFACE,
        settingsFrame([]),
        frame(FRAME_HEADERS, 0, 1, Buffer.from([0x82])),
        ...empty,
      ]),
    );
    await new Promise((r) => socket.on("close", r));
    const bytes = Buffer.concat(got);
    // The last frame is GOAWAY (type 7) with ENHANCE_YOUR_CALM (0xb).
    expect(bytes[bytes.length - 17 + 3]).to.equal(0x7);
    expect(bytes.subarray(-4).readUInt32BE(0)).to.equal(0xb);
    await close(srv.server);
  });

  it("keeps the stream window at what it announced until data is passed on", async () => {
    expect(STREAM_WINDOW).to.be.greaterThan(65535);
    let stream: H2Stream | undefined;
    const srv = await ourServer((s) => (stream = s));
    const client = http2.connect(`http://127.0.0.1:${srv.port}`);
    const req = client.request({ ":method": "POST", ":path": "/" });
    req.on("error", () => undefined);
    req.write(Buffer.alloc(STREAM_WINDOW + 100000));
    await new Promise((r) => setTimeout(r, 200));
    let received = 0;
    (stream as H2Stream).onData = (c) => (received += c.length);
    await new Promise((r) => setTimeout(r, 100));
    // Nothing was consumed: the client may not send more than the window.
    expect(received).to.equal(0);
    expect((stream as H2Stream).recvWindow).to.equal(0);
    client.destroy();
    await close(srv.server);
  });
});
