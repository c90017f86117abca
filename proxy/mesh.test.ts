// Two meshed proxies in process (loopback, test PKI): what the app sees, what is refused, what the
// metrics say, and opaque traffic through the transport header.
import { expect } from "chai";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import { Readiness } from "./admin/readiness";
import { loadConfig, type Env } from "./config";
import { unavailable } from "./interception";
import { ProxyMetrics } from "./metrics/metrics";
import { startProxy, type RunningProxy } from "./proxy";
import type { Endpoint, Resolver } from "./route/resolver";
import { closeServer, listenOn, testEnv } from "./testkit";
import { MtlsCredentials, mtlsOriginator, mtlsTerminator } from "./tls/mtls";
import { noTls, type TlsSeam } from "./tls/seam";
import { testCa, type TestCa } from "./tls/test-pki";

const SRV = "srv.ns.serviceaccount.identity.weft-system.cluster.local";
const CLI = "cli.ns.serviceaccount.identity.weft-system.cluster.local";

/** The seam identity builds, over test credentials; refusals are recorded. */
async function seamFor(ca: TestCa, identity: string, refusals: string[]): Promise<TlsSeam> {
  const creds = new MtlsCredentials(await ca.issue(identity));
  const refused = (reason: string): number => refusals.push(reason);
  return {
    outbound: mtlsOriginator(creds),
    inbound: mtlsTerminator(creds, { onRefused: refused }),
    plaintextLabels: noTls(false).plaintextLabels,
    refused,
  };
}

function fixed(endpoint: Endpoint): Resolver {
  return { resolve: () => Promise.resolve({ endpoints: [endpoint] }) };
}

interface Mesh {
  proxy: RunningProxy;
  refusals: string[];
}

async function meshed(
  ca: TestCa,
  identity: string,
  targetPort: number,
  env: Env = {},
  resolver?: Resolver,
): Promise<Mesh> {
  const refusals: string[] = [];
  const config = loadConfig({
    ...testEnv(targetPort, env),
    WEFT_PROXY_IDENTITY_DISABLED: "false",
  });
  const proxy = await startProxy(config, {
    tls: await seamFor(ca, identity, refusals),
    readiness: new Readiness(),
    interception: unavailable("loopback test"),
    metrics: new ProxyMetrics(),
    resolver,
  });
  return { proxy, refusals };
}

function get(
  port: number,
  headers: http.OutgoingHttpHeaders = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: "/", headers, agent: false }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on("error", reject);
  });
}

async function h2get(port: number, headers: http2.OutgoingHttpHeaders): Promise<string> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const req = session.request({ ":path": "/", ...headers });
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => (body += d));
    await new Promise((resolve, reject) => {
      req.on("end", resolve);
      req.on("error", reject);
    });
    return body;
  } finally {
    session.close();
  }
}

async function metricsOf(p: RunningProxy): Promise<string> {
  return p.metrics.registry.metrics();
}

describe("meshed proxies (loopback, test PKI)", function () {
  this.timeout(20_000);
  let ca: TestCa;
  const servers: net.Server[] = [];
  const proxies: RunningProxy[] = [];
  let h1Port: number;
  let h2Port: number;
  let echoPort: number;
  let server: Mesh;
  let serverH2: Mesh;
  let client: Mesh;

  const keep = (m: Mesh): Mesh => (proxies.push(m.proxy), m);

  before(async () => {
    ca = await testCa();
    const app = http.createServer((req, res) =>
      res.end(`id=${req.headers["l5d-client-id"] ?? "-"}`),
    );
    const app2 = http2.createServer();
    app2.on("stream", (s, h) => {
      s.respond({ ":status": 200 });
      s.end(`h2 id=${String(h["l5d-client-id"] ?? "-")}`);
    });
    const echo = net.createServer((s) => s.on("data", (d) => s.write(`echo:${String(d)}`)));
    servers.push(app, app2 as unknown as net.Server, echo);
    [h1Port, h2Port, echoPort] = await Promise.all(servers.map(listenOn));
    // The server's fixed target is the HTTP app: only the transport header can reach the echo port.
    server = keep(
      await meshed(ca, SRV, h1Port, { WEFT_PROXY_INBOUND_PORTS_REQUIRE_IDENTITY: String(h1Port) }),
    );
    serverH2 = keep(await meshed(ca, SRV, h2Port));
    const peer = (port: number): Endpoint => ({ address: "127.0.0.1", port, identity: SRV });
    client = keep(
      await meshed(
        ca,
        CLI,
        9,
        {},
        {
          resolve: (t) => {
            if (t.authority === "h2.ns") return fixed(peer(serverH2.proxy.inbound.port)).resolve(t);
            return fixed(peer(server.proxy.inbound.port)).resolve(t);
          },
        },
      ),
    );
  });

  after(async () => {
    for (const p of proxies) await p.close();
    for (const s of servers) await closeServer(s);
  });

  it("gives the app the verified l5d-client-id over HTTP/1, replacing a forged one", async () => {
    const res = await get(client.proxy.outbound.port, { "l5d-client-id": "forged" });
    expect(res).to.deep.equal({ status: 200, body: `id=${CLI}` });
  });

  it("gives the app the verified l5d-client-id over HTTP/2", async () => {
    const body = await h2get(client.proxy.outbound.port, {
      ":authority": "h2.ns",
      "l5d-client-id": "forged",
    });
    expect(body).to.equal(`h2 id=${CLI}`);
  });

  it("strips a client-sent l5d-client-id from plaintext on a port that allows it", async () => {
    expect(await h2get(serverH2.proxy.inbound.port, { "l5d-client-id": "forged" })).to.equal(
      "h2 id=-",
    );
  });

  it("refuses plaintext on a require-identity port and counts it", async () => {
    const before = server.refusals.length;
    let err: unknown;
    await get(server.proxy.inbound.port).catch((e: unknown) => (err = e));
    expect(String(err)).to.match(/socket hang up|ECONNRESET/);
    expect(server.refusals.slice(before)).to.deep.equal(["unauthenticated"]);
    expect((await get(client.proxy.outbound.port)).status).to.equal(200);
  });

  it("refuses TLS it does not terminate (another SNI) on a require-identity port", async () => {
    const before = server.refusals.length;
    await new Promise<void>((resolve) => {
      const s = tls.connect({
        host: "127.0.0.1",
        port: server.proxy.inbound.port,
        servername: "someone-else.example",
        rejectUnauthorized: false,
      });
      s.on("error", () => resolve());
      s.on("close", () => resolve());
    });
    expect(server.refusals.slice(before)).to.deep.equal(["unauthenticated"]);
  });

  it("labels requests tls=true with server_id outbound and client_id inbound", async () => {
    await get(client.proxy.outbound.port);
    const out = await metricsOf(client.proxy);
    const inb = await metricsOf(server.proxy);
    expect(out).to.match(
      new RegExp(`request_total\\{direction="outbound"[^}]*tls="true",server_id="${SRV}"`),
    );
    expect(out).to.match(
      new RegExp(`response_total\\{direction="outbound"[^}]*tls="true",server_id="${SRV}"`),
    );
    expect(inb).to.match(
      new RegExp(`request_total\\{direction="inbound"[^}]*tls="true",client_id="${CLI}"`),
    );
  });

  it("sends opaque bytes to the peer's inbound port with a transport header naming the app port", async () => {
    const opaque = await meshed(
      ca,
      CLI,
      echoPort,
      {
        WEFT_PROXY_OUTBOUND_PORTS_DISABLE_PROTOCOL_DETECTION: String(echoPort),
      },
      fixed({
        address: "127.0.0.1",
        port: echoPort,
        identity: SRV,
        opaqueTransportPort: server.proxy.inbound.port,
      }),
    );
    keep(opaque);
    const got = await new Promise<string>((resolve, reject) => {
      const s = net.connect(opaque.proxy.outbound.port, "127.0.0.1", () => s.write("ping"));
      s.on("data", (d) => {
        resolve(String(d));
        s.destroy();
      });
      s.on("error", reject);
    });
    expect(got).to.equal("echo:ping");
    const out = await metricsOf(opaque.proxy);
    expect(out).to.match(
      new RegExp(
        `tcp_open_total\\{direction="outbound",peer="dst",target_addr="127.0.0.1:${echoPort}",tls="true",server_id="${SRV}"\\} 1`,
      ),
    );
  });
});
