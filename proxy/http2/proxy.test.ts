import * as grpc from "@grpc/grpc-js";
import { expect } from "chai";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { RunningProxy } from "../proxy";
import { closeServer, listenOn, startTestProxy } from "../testkit";

const raw = (b: Buffer): Buffer => b;
const method = (path: string, requestStream: boolean, responseStream: boolean) => ({
  path,
  requestStream,
  responseStream,
  requestSerialize: raw,
  requestDeserialize: raw,
  responseSerialize: raw,
  responseDeserialize: raw,
});
const service = {
  unary: method("/weft.test.Echo/Unary", false, false),
  chat: method("/weft.test.Echo/Chat", true, true),
  missing: method("/weft.test.Echo/Missing", false, false),
};
const EchoClient = grpc.makeGenericClientConstructor(service, "Echo");
type Client = InstanceType<typeof EchoClient> & Record<string, CallableFunction>;

function trailer(): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set("x-trailer", "kept");
  return md;
}

function startGrpc(): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(service, {
    unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
      cb(null, Buffer.concat([Buffer.from("echo:"), call.request]), trailer()),
    chat: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on("data", (d: Buffer) => call.write(Buffer.concat([Buffer.from("re:"), d])));
      call.on("end", () => call.end(trailer()));
    },
    missing: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) =>
      cb({ code: grpc.status.NOT_FOUND, details: "no such thing" }),
  });
  return new Promise((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve({ server, port }),
    ),
  );
}

function unary(
  client: Client,
  name: string,
  body: string,
): Promise<{ reply?: Buffer; err?: grpc.ServiceError; trailers?: grpc.Metadata }> {
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | undefined;
    const call = client[name](Buffer.from(body), (err: grpc.ServiceError | null, reply?: Buffer) =>
      setImmediate(() => resolve({ reply, err: err ?? undefined, trailers })),
    );
    call.on("status", (s: grpc.StatusObject) => (trailers = s.metadata));
  });
}

describe("gRPC through the proxy", function () {
  this.timeout(15_000);
  let server: grpc.Server;
  let proxy: RunningProxy;
  let client: Client;

  before(async () => {
    const g = await startGrpc();
    server = g.server;
    proxy = await startTestProxy({ targetPort: g.port });
    client = new EchoClient(
      `127.0.0.1:${proxy.outbound.port}`,
      grpc.credentials.createInsecure(),
    ) as Client;
  });

  after(async () => {
    client.close();
    await proxy.close();
    server.forceShutdown();
  });

  it("forwards a unary call with its trailers", async () => {
    const r = await unary(client, "unary", "hi");
    expect(r.err).to.equal(undefined);
    expect(r.reply?.toString()).to.equal("echo:hi");
    expect(r.trailers?.get("x-trailer")).to.deep.equal(["kept"]);
  });

  it("forwards a bidirectional stream, message by message, with trailers", async () => {
    const call = client.chat();
    const got: string[] = [];
    const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
    call.on("data", (d: Buffer) => {
      got.push(d.toString());
      if (got.length < 5) call.write(Buffer.from(`m${got.length}`));
      else call.end();
    });
    call.write(Buffer.from("m0"));
    const s = await status;
    expect(got).to.deep.equal(["re:m0", "re:m1", "re:m2", "re:m3", "re:m4"]);
    expect(s.code).to.equal(grpc.status.OK);
    expect(s.metadata.get("x-trailer")).to.deep.equal(["kept"]);
  });

  it("relays a non-OK grpc-status from the server", async () => {
    const r = await unary(client, "missing", "x");
    expect(r.err?.code).to.equal(grpc.status.NOT_FOUND);
    expect(r.err?.details).to.equal("no such thing");
  });

  it("counts gRPC responses with their grpc_status", async () => {
    const text = await proxy.metrics.registry.metrics();
    expect(text).to.match(
      /response_total\{[^}]*status_code="200"[^}]*classification="failure"[^}]*grpc_status="5"\} 1/,
    );
    expect(text).to.match(
      /response_total\{[^}]*classification="success"[^}]*grpc_status="0"\} [1-9]/,
    );
  });
});

describe("HTTP/2 through the proxy", function () {
  this.timeout(15_000);
  let upstream: http2.Http2Server;
  let proxy: RunningProxy;
  let lastReset = -1;
  let flooded = 0;
  let refusals = 0;

  before(async () => {
    upstream = http2.createServer();
    upstream.on("stream", (stream, headers) => {
      const path = headers[":path"];
      stream.on("error", () => undefined);
      stream.on("close", () => (lastReset = stream.rstCode ?? -1));
      if (path === "/reset") {
        stream.respond({ ":status": 200 });
        stream.write("partial");
        setTimeout(() => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR), 20);
      } else if (path === "/hang") {
        stream.respond({ ":status": 200 });
        stream.write("waiting");
      } else if (path === "/flood") {
        // Writes 16 MiB as fast as flow control lets it, counting what nghttp2 has taken.
        stream.respond({ ":status": 200 });
        const chunk = Buffer.alloc(64 * 1024, 1);
        let left = 256;
        const pump = (): void => {
          while (left > 0) {
            left--;
            flooded += chunk.length;
            if (!stream.write(chunk)) return void stream.once("drain", pump);
          }
          stream.end();
        };
        pump();
      } else if (path === "/refused-once") {
        // The first stream is refused unprocessed; the proxy sends it again, body and all.
        if (refusals++ === 0) return stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        stream.respond({ ":status": 200 });
        stream.pipe(stream);
      } else if (path === "/reject-upload") {
        // Answers at once without reading the body that is still coming.
        stream.respond({ ":status": 413 }, { endStream: true });
      } else if (path === "/goaway") {
        stream.respond({ ":status": 200 });
        stream.end("bye");
        stream.session?.close();
      } else {
        stream.respond({ ":status": 200, "x-path": String(path) }, { waitForTrailers: true });
        stream.on("wantTrailers", () => stream.sendTrailers({ "x-sum": "ok" }));
        stream.pipe(stream);
      }
    });
    proxy = await startTestProxy({ targetPort: await listenOn(upstream as unknown as net.Server) });
  });

  after(async () => {
    await proxy.close();
    await closeServer(upstream as unknown as net.Server);
  });

  function connect(): http2.ClientHttp2Session {
    return http2.connect(`http://127.0.0.1:${proxy.outbound.port}`);
  }

  it("streams a body both ways and relays trailers (h2c prior knowledge)", async () => {
    const session = connect();
    try {
      const req = session.request({ ":method": "POST", ":path": "/echo" });
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) =>
        req.on("trailers", resolve),
      );
      const headers = new Promise<http2.IncomingHttpHeaders>((resolve) =>
        req.on("response", resolve),
      );
      const chunks: Buffer[] = [];
      req.on("data", (d: Buffer) => chunks.push(d));
      const ended = new Promise((resolve) => req.on("end", resolve));
      const big = Buffer.alloc(1024 * 1024, 7);
      req.write("first;");
      req.end(big);
      expect((await headers)["x-path"]).to.equal("/echo");
      await ended;
      expect(Buffer.concat(chunks).length).to.equal(6 + big.length);
      expect((await trailers)["x-sum"]).to.equal("ok");
    } finally {
      session.close();
    }
  });

  it("holds a fast upstream back while the client does not read (flow control end to end)", async () => {
    const session = connect();
    try {
      flooded = 0;
      const req = session.request({ ":path": "/flood" });
      req.pause();
      await new Promise((r) => setTimeout(r, 500));
      // The client's window, the proxy's stream windows and the sockets' buffers hold a few MiB
      // at most: the rest of the 16 MiB waits at the server.
      const heldBack = flooded;
      expect(heldBack).to.be.below(6 * 1024 * 1024);
      let received = 0;
      req.on("data", (d: Buffer) => (received += d.length));
      req.resume();
      await new Promise((resolve) => req.on("end", resolve));
      expect(received).to.equal(16 * 1024 * 1024);
    } finally {
      session.close();
    }
  });

  it("sends a stream the upstream refused again, with its body", async () => {
    const session = connect();
    try {
      refusals = 0;
      const req = session.request({ ":method": "POST", ":path": "/refused-once" });
      const chunks: Buffer[] = [];
      req.on("data", (d: Buffer) => chunks.push(d));
      const status = new Promise<number>((resolve) =>
        req.on("response", (h) => resolve(Number(h[":status"]))),
      );
      req.end("the body");
      expect(await status).to.equal(200);
      await new Promise((resolve) => req.on("end", resolve));
      expect(Buffer.concat(chunks).toString()).to.equal("the body");
      expect(refusals).to.equal(2);
    } finally {
      session.close();
    }
  });

  it("tells a client still uploading to stop once the upstream has answered (RST_STREAM NO_ERROR)", async () => {
    const session = connect();
    try {
      const req = session.request({ ":method": "POST", ":path": "/reject-upload" });
      req.on("error", () => undefined);
      const status = new Promise<number>((resolve) =>
        req.on("response", (h) => resolve(Number(h[":status"]))),
      );
      // More than every window on the way: the upload can only end by the proxy's reset.
      const chunk = Buffer.alloc(64 * 1024, 3);
      for (let i = 0; i < 48; i++) req.write(chunk);
      req.resume();
      expect(await status).to.equal(413);
      await new Promise((resolve) => req.on("close", resolve));
      expect(req.rstCode).to.equal(http2.constants.NGHTTP2_NO_ERROR);
    } finally {
      session.close();
    }
  });

  it("announces how many streams a client may open at once", async () => {
    const session = connect();
    try {
      const settings = await new Promise<http2.Settings>((resolve) =>
        session.once("remoteSettings", resolve),
      );
      expect(settings.maxConcurrentStreams).to.equal(256);
    } finally {
      session.close();
    }
  });

  it("propagates an upstream RST_STREAM to the client", async () => {
    const session = connect();
    try {
      // The request stays open: a reset then cannot be mistaken for a finished exchange.
      const req = session.request({ ":path": "/reset", ":method": "POST" });
      req.on("error", () => undefined);
      req.resume();
      await new Promise((resolve) => req.on("close", resolve));
      expect(req.rstCode).to.equal(http2.constants.NGHTTP2_INTERNAL_ERROR);
    } finally {
      session.close();
    }
  });

  it("propagates a client cancel to the upstream stream", async () => {
    const session = connect();
    try {
      lastReset = -1;
      const req = session.request({ ":path": "/hang" });
      await new Promise((resolve) => req.once("data", resolve));
      req.close(http2.constants.NGHTTP2_CANCEL);
      const deadline = Date.now() + 3000;
      while (lastReset === -1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(lastReset).to.equal(http2.constants.NGHTTP2_CANCEL);
    } finally {
      session.close();
    }
  });

  it("keeps serving after the upstream sends GOAWAY", async () => {
    const session = connect();
    try {
      for (const path of ["/goaway", "/after"]) {
        const req = session.request({ ":path": path, ":method": "POST" });
        req.end("x");
        const status = await new Promise<number>((resolve) =>
          req.on("response", (h) => resolve(Number(h[":status"]))),
        );
        req.resume();
        await new Promise((resolve) => req.on("close", resolve));
        expect(status).to.equal(200);
      }
    } finally {
      session.close();
    }
  });
});

describe("HTTP/2 upstream failures", function () {
  this.timeout(10_000);

  it("answers 502 with l5d-proxy-error, and gRPC clients get UNAVAILABLE", async () => {
    const free = net.createServer();
    const port = await listenOn(free);
    await closeServer(free);
    const proxy = await startTestProxy({ targetPort: port });
    const session = http2.connect(`http://127.0.0.1:${proxy.outbound.port}`);
    const client = new EchoClient(
      `127.0.0.1:${proxy.outbound.port}`,
      grpc.credentials.createInsecure(),
    ) as Client;
    try {
      const req = session.request({ ":path": "/" });
      req.end();
      const h = await new Promise<http2.IncomingHttpHeaders>((resolve) =>
        req.on("response", resolve),
      );
      req.resume();
      expect(h[":status"]).to.equal(502);
      expect(h["l5d-proxy-error"]).to.match(/connection refused/);
      const r = await unary(client, "unary", "x");
      expect(r.err?.code).to.equal(grpc.status.UNAVAILABLE);
      expect(r.err?.metadata.get("l5d-proxy-error")[0]).to.match(/connection refused/);
    } finally {
      client.close();
      session.close();
      await proxy.close();
    }
  });
});
