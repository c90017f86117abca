import { expect } from "chai";
import * as http from "node:http";
import * as net from "node:net";
import * as tls from "node:tls";
import { noTls, inboundTlsLabels, outboundTlsLabels, type Terminated } from "./seam";
import {
  MtlsCredentials,
  mtlsOriginator,
  mtlsTerminator,
  originateTls,
  identityOf,
  clientIdentityDecision,
  TlsIdentityError,
} from "./mtls";
import { looksLikeClientHello } from "./client-hello";
import { CLIENT_ID_HEADER, inboundIdentityDecision, setClientIdHeader } from "./inbound-policy";
import {
  decodeTransportHeader,
  encodeTransportHeader,
  TRANSPORT_HEADER_ALPN,
} from "./transport-header";
import { sessionKey } from "./sessions";
import { captureClientHello, testCa, type TestCa } from "./test-pki";

const SRV = "srv.ns.serviceaccount.identity.weft-system.cluster.local";
const CLI = "cli.ns.serviceaccount.identity.weft-system.cluster.local";
/** Issued 10 s ago (the test CA's anchors are 20 s older) for 1 s, without skew: expired. */
const expired = (): { now: Date; lifetimeMs: number; skewMs: number } => ({
  now: new Date(Date.now() - 10_000),
  lifetimeMs: 1000,
  skewMs: 0,
});

/** An inbound listener shaped like the proxy's: detect TLS, terminate, decide, then HTTP or opaque. */
class Inbound {
  server: net.Server;
  port = 0;
  refused: string[] = [];
  declined = 0;
  private readonly ids = new WeakMap<net.Socket, string | undefined>();
  private readonly app: http.Server;

  constructor(
    creds: MtlsCredentials,
    private readonly requirePorts: Set<number>,
    private readonly targetPort: number,
  ) {
    const terminator = mtlsTerminator(creds, { onRefused: (r) => this.refused.push(r) });
    this.app = http.createServer((req, res) => {
      const headers = setClientIdHeader(req.headers, this.ids.get(req.socket));
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          clientId: headers[CLIENT_ID_HEADER] ?? null,
          alpn: (req.socket as tls.TLSSocket).alpnProtocol ?? null,
        }),
      );
    });
    this.server = net.createServer((raw) => {
      raw.once("data", (initial: Buffer) => {
        raw.pause();
        void this.accept(raw, initial, terminator);
      });
      raw.on("error", () => raw.destroy());
    });
  }

  private async accept(
    raw: net.Socket,
    initial: Buffer,
    terminator: ReturnType<typeof mtlsTerminator>,
  ): Promise<void> {
    let t: Terminated | undefined;
    if (looksLikeClientHello(initial)) {
      t = await terminator.terminate(raw, initial).catch(() => undefined);
      if (t === undefined) {
        if (!raw.destroyed) this.declined++;
        raw.destroy();
        return;
      }
    }
    const decision = inboundIdentityDecision(this.targetPort, this.requirePorts, t?.clientIdentity);
    if (decision.action === "refuse") {
      this.refused.push(decision.reason);
      raw.destroy();
      return;
    }
    const sock = t?.socket ?? raw;
    if (t === undefined) sock.unshift(initial);
    this.ids.set(sock, t?.clientIdentity);
    this.route(sock);
  }

  /** Opaque when the stream starts with a transport header (echo with the target port), else HTTP. */
  private route(sock: net.Socket): void {
    sock.once("readable", () => {
      const head = (sock.read() as Buffer | null) ?? Buffer.alloc(0);
      const decoded = decodeTransportHeader(head);
      if (decoded.kind === "header") {
        sock.write(`port=${decoded.header.port};`);
        sock.write(head.subarray(decoded.consumed));
        sock.pipe(sock);
        return;
      }
      sock.unshift(head);
      this.app.emit("connection", sock);
    });
    sock.resume();
  }

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  close(): void {
    this.server.close();
  }
}

function get(
  sock: tls.TLSSocket | net.Socket,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ createConnection: () => sock, path: "/", headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body: JSON.parse(Buffer.concat(chunks).toString()),
        }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

function connect(port: number): net.Socket {
  return net.connect(port, "127.0.0.1");
}

/** Resolves with the error (or "closed") when a TLS client is refused, "secure" if it was not. */
function outcome(sock: tls.TLSSocket): Promise<string> {
  return new Promise((resolve) => {
    sock.on("error", (e: Error & { code?: string }) => resolve(e.code ?? e.message));
    sock.on("secureConnect", () => {
      sock.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
    });
    sock.on("data", () => resolve("answered"));
    sock.on("close", () => resolve("closed"));
  });
}

describe("mTLS between two endpoints (loopback)", function () {
  let ca: TestCa;
  let server: MtlsCredentials;
  let client: MtlsCredentials;
  let inbound: Inbound;

  before(async () => {
    ca = await testCa();
    server = new MtlsCredentials(await ca.issue(SRV));
    client = new MtlsCredentials(await ca.issue(CLI));
    inbound = new Inbound(server, new Set([7000]), 8080);
    await inbound.listen();
  });
  after(() => inbound.close());
  beforeEach(() => {
    inbound.refused = [];
    inbound.declined = 0;
  });

  it("authenticates both sides over TLS 1.3 and hands the verified client id to the app", async () => {
    const sock = originateTls(client, connect(inbound.port), SRV, ["http/1.1"]);
    await new Promise((r) => sock.once("secureConnect", r));
    expect(sock.getProtocol()).to.equal("TLSv1.3");
    expect(identityOf(sock.getPeerCertificate())).to.equal(SRV);
    const res = await get(sock, {
      [CLIENT_ID_HEADER]: "forged.ns.serviceaccount.identity.weft-system.cluster.local",
    });
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({ clientId: CLI, alpn: "http/1.1" });
    expect(inbound.refused).to.deep.equal([]);
  });

  it("negotiates h2 by ALPN when offered", async () => {
    const sock = originateTls(client, connect(inbound.port), SRV);
    await new Promise((r) => sock.once("secureConnect", r));
    expect(sock.alpnProtocol).to.equal("h2");
    sock.destroy();
  });

  it("carries opaque TCP with the transport header naming the target port", async () => {
    const sock = originateTls(client, connect(inbound.port), SRV, [TRANSPORT_HEADER_ALPN]);
    await new Promise((r) => sock.once("secureConnect", r));
    expect(sock.alpnProtocol).to.equal("transport.l5d.io/v1");
    const got: Buffer[] = [];
    sock.on("data", (d: Buffer) => got.push(d));
    sock.write(
      Buffer.concat([
        encodeTransportHeader({ port: 6379, name: "", sessionProtocol: undefined }),
        Buffer.from("PING"),
      ]),
    );
    for (let i = 0; i < 200 && !Buffer.concat(got).toString().endsWith("PING"); i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(Buffer.concat(got).toString()).to.equal("port=6379;PING");
    sock.destroy();
  });

  it("refuses a client whose certificate comes from another CA", async () => {
    const other = await testCa();
    const foreign = new MtlsCredentials(await other.issue(CLI, { anchorsPem: ca.anchorsPem }));
    const sock = originateTls(foreign, connect(inbound.port), SRV, ["http/1.1"]);
    expect(await outcome(sock)).to.not.equal("answered");
    expect(inbound.refused).to.deep.equal(["untrusted_client_certificate"]);
  });

  it("refuses a client whose certificate has expired", async () => {
    const stale = new MtlsCredentials(await ca.issue(CLI, expired()));
    const sock = originateTls(stale, connect(inbound.port), SRV, ["http/1.1"]);
    expect(await outcome(sock)).to.not.equal("answered");
    expect(inbound.refused).to.deep.equal(["untrusted_client_certificate"]);
  });

  it("refuses to talk to a server whose certificate has expired", async () => {
    const stale = new MtlsCredentials(await ca.issue(SRV, expired()));
    const server = new Inbound(stale, new Set(), 8080);
    await server.listen();
    try {
      const sock = originateTls(client, connect(server.port), SRV, ["http/1.1"]);
      expect(await outcome(sock)).to.equal("CERT_HAS_EXPIRED");
    } finally {
      server.close();
    }
  });

  it("decides on a client from OpenSSL's verdict, its curve and its single DNS SAN", () => {
    const raw = Buffer.from("der");
    const valid_to = "Nov 26 07:13:39 2026 GMT";
    const now = Date.parse(valid_to) - 1000;
    const p256 = { raw, asn1Curve: "prime256v1", subjectaltname: `DNS:${CLI}`, valid_to };
    const peer = (c: object): tls.PeerCertificate => c as tls.PeerCertificate;
    expect(clientIdentityDecision(peer(p256), "", now)).to.deep.equal({ ok: true, identity: CLI });
    const refusals = [
      clientIdentityDecision(undefined, "", now),
      clientIdentityDecision(peer(p256), "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", now),
      clientIdentityDecision(peer(p256), "", now + 1000),
      clientIdentityDecision(peer({ ...p256, asn1Curve: "secp384r1" }), "", now),
      clientIdentityDecision(peer({ ...p256, subjectaltname: `DNS:${CLI}, DNS:x` }), "", now),
    ];
    expect(refusals.map((d) => (d.ok ? "ok" : d.reason))).to.deep.equal([
      "no_client_certificate",
      "untrusted_client_certificate",
      "client_certificate_expired",
      "client_certificate_not_p256",
      "client_certificate_without_identity",
    ]);
  });

  it("refuses a TLS client that presents no certificate", async () => {
    const sock = tls.connect({
      socket: connect(inbound.port),
      servername: SRV,
      ca: ca.anchorsPem,
      minVersion: "TLSv1.3",
      checkServerIdentity: () => undefined,
    });
    expect(await outcome(sock)).to.not.equal("answered");
    // node:tls with requestCert + rejectUnauthorized aborts the handshake itself when no certificate comes
    expect(inbound.refused).to.deep.equal(["handshake_failed"]);
  });

  it("refuses to talk to a server that proves another identity", async () => {
    const creds = await ca.issue(SRV);
    const any = tls.createServer({
      key: creds.keyPem,
      cert: creds.certChainPem,
      minVersion: "TLSv1.3",
    });
    any.on("tlsClientError", () => undefined);
    await new Promise<void>((r) => any.listen(0, "127.0.0.1", r));
    after(() => any.close());
    const port = (any.address() as net.AddressInfo).port;
    const sock = originateTls(
      client,
      connect(port),
      "other.ns.serviceaccount.identity.weft-system.cluster.local",
    );
    const err = await new Promise<unknown>((resolve) => {
      sock.on("error", resolve);
      sock.on("secureConnect", () => resolve(undefined));
    });
    expect(err).to.be.instanceOf(TlsIdentityError);
    expect((err as TlsIdentityError).code).to.equal("WEFT_ERR_TLS_PEER_IDENTITY");
    sock.destroy();
  });

  it("declines a ClientHello for another name (it passes through opaque)", async () => {
    const other = new MtlsCredentials(await ca.issue(SRV));
    const terminator = mtlsTerminator(other);
    const hello = await captureClientHello("not-this-proxy.example");
    const [a] = await socketPair();
    expect(await terminator.terminate(a, hello)).to.equal(undefined);
    a.destroy();
  });

  it("accepts plaintext on ordinary ports and refuses it on require-identity ports", async () => {
    const open = new Inbound(server, new Set([7000]), 8080);
    const strict = new Inbound(server, new Set([7000]), 7000);
    await open.listen();
    await strict.listen();
    try {
      const ok = await get(connect(open.port));
      expect(ok.body).to.deep.equal({ clientId: null, alpn: null });
      const refused = await get(connect(strict.port)).then(
        () => "answered",
        (e: Error & { code?: string }) => e.code ?? e.message,
      );
      expect(refused).to.equal("ECONNRESET");
      expect(strict.refused).to.deep.equal(["unauthenticated"]);
      const sock = originateTls(client, connect(strict.port), SRV, ["http/1.1"]);
      expect((await get(sock)).body).to.deep.equal({ clientId: CLI, alpn: "http/1.1" });
    } finally {
      open.close();
      strict.close();
    }
  });

  it("labels metrics tls=true with client_id inbound and server_id outbound", () => {
    const seam = {
      ...noTls(false),
      outbound: mtlsOriginator(client),
      inbound: mtlsTerminator(server),
    };
    expect(seam.outbound.peerIdentity({ address: "10.0.0.1", port: 8080, identity: SRV })).to.equal(
      SRV,
    );
    expect(seam.outbound.peerIdentity({ address: "10.0.0.1", port: 8080 })).to.equal(undefined);
    expect(outboundTlsLabels(seam, SRV)).to.deep.equal({ tls: "true", server_id: SRV });
    expect(inboundTlsLabels(seam, CLI, true)).to.deep.equal({ tls: "true", client_id: CLI });
    expect(inboundTlsLabels(seam, undefined, false)).to.deep.equal({
      tls: "no_identity",
      no_tls_reason: "not_provided_by_service_discovery",
    });
  });
});

describe("TLS session resumption between proxies (loopback)", function () {
  const key = sessionKey("127.0.0.1", SRV);
  let ca: TestCa;
  let client: MtlsCredentials;
  let server: MtlsCredentials;
  let inbound: Inbound;

  before(async () => {
    ca = await testCa();
  });
  beforeEach(async () => {
    client = new MtlsCredentials(await ca.issue(CLI));
    server = new MtlsCredentials(await ca.issue(SRV));
    inbound = new Inbound(server, new Set(), 8080);
    await inbound.listen();
  });
  afterEach(() => inbound.close());

  /** One request on a new connection: whether it resumed, and the client id the app saw. */
  async function request(creds = client): Promise<{ resumed: boolean; clientId: unknown }> {
    const sock = originateTls(creds, connect(inbound.port), SRV, ["http/1.1"], "127.0.0.1");
    const res = await get(sock);
    // the tickets come after the handshake; the next connection needs one
    for (let i = 0; i < 100 && creds.sessions.get(key, Date.now()) === undefined; i++)
      await new Promise((r) => setTimeout(r, 5));
    const resumed = sock.isSessionReused();
    sock.destroy();
    return { resumed, clientId: res.body.clientId };
  }

  it("resumes the second connection to the same peer, and the app still gets the client's identity", async () => {
    expect(await request()).to.deep.equal({ resumed: false, clientId: CLI });
    expect(await request()).to.deep.equal({ resumed: true, clientId: CLI });
    expect(inbound.refused).to.deep.equal([]);
  });

  it("keeps resuming across the server's certificate renewal, not across a change of its anchors", async () => {
    await request();
    server.update(await ca.issue(SRV));
    expect(await request()).to.deep.equal({ resumed: true, clientId: CLI });
    server.update(await ca.issue(SRV, { anchorsPem: `${ca.anchorsPem}\n` }));
    expect(await request()).to.deep.equal({ resumed: false, clientId: CLI });
  });

  it("does a full handshake after the client's own renewal, so the server sees its new certificate", async () => {
    await request();
    client.update(await ca.issue(CLI));
    expect(client.sessions.size).to.equal(0);
    expect(await request()).to.deep.equal({ resumed: false, clientId: CLI });
  });

  it("refuses a resumed session whose client certificate has expired since", async () => {
    const brief = new MtlsCredentials(await ca.issue(CLI, { lifetimeMs: 1500, skewMs: 0 }));
    expect(await request(brief)).to.deep.equal({ resumed: false, clientId: CLI });
    await new Promise((r) => setTimeout(r, 2000));
    const sock = originateTls(brief, connect(inbound.port), SRV, ["http/1.1"], "127.0.0.1");
    let resumed = false;
    sock.once("secureConnect", () => (resumed = sock.isSessionReused()));
    expect(await outcome(sock)).to.not.equal("answered");
    expect(resumed).to.equal(true);
    expect(inbound.refused).to.deep.equal(["client_certificate_expired"]);
  });
});

async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const accepted = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
  const c = connect((server.address() as net.AddressInfo).port);
  const s = await accepted;
  server.close();
  return [s, c];
}
