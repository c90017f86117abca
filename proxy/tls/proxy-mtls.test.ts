import { expect } from "chai";
import * as http from "node:http";
import type * as net from "node:net";
import * as tls from "node:tls";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readiness } from "../admin/readiness";
import { loadConfig } from "../config";
import { ProxyMetrics } from "../metrics/metrics";
import { startProxy, type RunningProxy } from "../proxy";
import type { Interception } from "../interception";
import { generateTrust } from "../../operator/identity/ca";
import { IssuerStore } from "../../operator/identity/issuer-store";
import { IdentityMetrics } from "../../operator/identity/metrics";
import { ServingCertificate } from "../../operator/identity/self-tls";
import { startIdentityServer, type RunningServer } from "../../operator/identity/server";
import { startProxyIdentity, type ProxyIdentity } from "../identity/start";

const SRV = "srv.ns.serviceaccount.identity.weft-system.cluster.local";
const CLI = "cli.ns.serviceaccount.identity.weft-system.cluster.local";
const IDENTITY_SVC = "weft-identity.weft-system.serviceaccount.identity.weft-system.cluster.local";

function fixedDst(port: number): Interception {
  return {
    originalDestination: () => ({ address: "127.0.0.1", port, family: 4 }),
    interceptionAvailable: () => ({ ok: true }),
  };
}

/** A GET; with `keepAlive` false it has a connection of its own, closed after the response. */
function get(port: number, keepAlive = true): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(
        {
          host: "127.0.0.1",
          port,
          path: "/hello",
          headers: { host: "srv.ns.svc.cluster.local" },
          ...(keepAlive ? {} : { agent: false }),
        },
        (res) => {
          let body = "";
          res.on("data", (d) => (body += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      )
      .on("error", reject);
  });
}

/** The value of the series `name{labels}` in a Prometheus text exposition, or undefined. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("two proxies do mTLS end to end (in-process, loopback)", function () {
  this.timeout(20_000);
  let identity: RunningServer;
  let serving: ServingCertificate;
  let anchors: string;
  let app: http.Server;
  let appPort: number;
  const proxies: RunningProxy[] = [];
  const ids: ProxyIdentity[] = [];
  let tokenDir: string;

  before(async () => {
    const trust = await generateTrust();
    anchors = trust.trustAnchorsPem;
    const store = new IssuerStore();
    await store.reload({ secretData: trust.issuerSecretData, anchorsPem: anchors });
    serving = new ServingCertificate(IDENTITY_SVC, 3600_000);
    await serving.follow(store.current());
    identity = await startIdentityServer(
      {
        issuer: () => store.current(),
        review: async (token) => ({
          authenticated: true,
          username: `system:serviceaccount:ns:${token}`,
        }),
        trustDomain: "cluster.local",
        controlPlaneNamespace: "weft-system",
        leafLifetimeMs: 3600_000,
        clockSkewMs: 20_000,
        now: () => new Date(),
        metrics: new IdentityMetrics(),
      },
      "127.0.0.1:0",
      serving.credentials(),
    );
    app = http.createServer((req, res) =>
      res.end(`app saw ${req.url} client-id=${req.headers["l5d-client-id"] ?? "-"}`),
    );
    await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
    appPort = (app.address() as net.AddressInfo).port;
    tokenDir = mkdtempSync(join(tmpdir(), "weft-proxy-mtls-"));
  });
  after(async () => {
    for (const i of ids) i.stop();
    for (const p of proxies) await p.close();
    app.close();
    await identity.close();
    serving.stop();
  });

  async function meshedProxy(
    name: string,
    sa: string,
    interception: Interception,
    peer?: { port: number; identity: string },
  ) {
    writeFileSync(join(tokenDir, sa), sa);
    const config = loadConfig({
      WEFT_PROXY_INBOUND_LISTEN_ADDR: "127.0.0.1:0",
      WEFT_PROXY_OUTBOUND_LISTEN_ADDR: "127.0.0.1:0",
      WEFT_PROXY_ADMIN_LISTEN_ADDR: "127.0.0.1:0",
      WEFT_PROXY_CONTROL_LISTEN_ADDR: "127.0.0.1:0",
      WEFT_PROXY_IDENTITY_LOCAL_NAME: name,
      WEFT_PROXY_IDENTITY_TOKEN_FILE: join(tokenDir, sa),
      WEFT_PROXY_IDENTITY_TRUST_ANCHORS: anchors,
      WEFT_PROXY_IDENTITY_SVC_ADDR: `127.0.0.1:${identity.port}`,
      WEFT_PROXY_IDENTITY_SVC_NAME: IDENTITY_SVC,
    });
    const readiness = new Readiness();
    const metrics = new ProxyMetrics();
    const id = await startProxyIdentity(config, {
      registerGate: (n) => readiness.register(n),
      registry: metrics.registry,
    });
    ids.push(id);
    expect(readiness.waiting()).to.deep.equal(["identity"]);
    const resolver = peer && {
      resolve: async () => ({
        endpoints: [{ address: "127.0.0.1", port: peer.port, identity: peer.identity }],
      }),
    };
    const proxy = await startProxy(config, {
      tls: id.seam,
      readiness,
      metrics,
      interception,
      resolver,
    });
    proxies.push(proxy);
    await id.agent!.firstCredentials();
    expect(readiness.isReady()).to.equal(true);
    return proxy;
  }

  it("forwards a request client → outbound proxy → mTLS → inbound proxy → app, with identities in metrics", async () => {
    const server = await meshedProxy(SRV, "srv", fixedDst(appPort));
    const client = await meshedProxy(CLI, "cli", fixedDst(server.inbound.port), {
      port: server.inbound.port,
      identity: SRV,
    });
    const res = await get(client.outbound.port);
    expect(res.status).to.equal(200);
    expect(res.body).to.match(/^app saw \/hello client-id=/);
    const inbound = await server.metrics.registry.metrics();
    const outbound = await client.metrics.registry.metrics();
    expect(inbound).to.match(
      new RegExp(`request_total\\{[^}]*direction="inbound"[^}]*tls="true"[^}]*client_id="${CLI}"`),
    );
    // the outbound connection to the peer carries its identity (request_total outbound is labelled by the HTTP layer)
    expect(outbound).to.match(
      new RegExp(
        `tcp_open_total\\{direction="outbound",peer="dst"[^}]*tls="true",server_id="${SRV}"\\} 1`,
      ),
    );
    expect(outbound).to.match(/identity_cert_expiration_timestamp_seconds \d+/);
  });

  it("counts an inbound mTLS connection's TCP metrics once, labelled with the client identity", async () => {
    const server = await meshedProxy(SRV, "srv", fixedDst(appPort));
    const client = await meshedProxy(CLI, "cli", fixedDst(server.inbound.port), {
      port: server.inbound.port,
      identity: SRV,
    });
    expect((await get(client.outbound.port)).status).to.equal(200);
    const meshed = `direction="inbound",peer="src",target_addr="127.0.0.1:${appPort}",tls="true",client_id="${CLI}"`;
    let text = await server.metrics.registry.metrics();
    expect(sample(text, "tcp_open_total", meshed)).to.equal(1);
    expect(sample(text, "tcp_open_connections", meshed)).to.equal(1);
    expect(sample(text, "tcp_read_bytes_total", meshed)).to.be.greaterThan(0);
    expect(sample(text, "tcp_write_bytes_total", meshed)).to.be.greaterThan(0);
    expect(text).to.not.match(
      /tcp_open_total\{direction="inbound",peer="src"[^}]*tls="no_identity"/,
    );

    await client.close();
    proxies.splice(proxies.indexOf(client), 1);
    const plain = `direction="inbound",peer="src",target_addr="127.0.0.1:${appPort}",tls="no_identity",no_tls_reason="not_provided_by_service_discovery"`;
    expect((await get(server.inbound.port, false)).status).to.equal(200);
    text = await server.metrics.registry.metrics();
    const plainRead = sample(text, "tcp_read_bytes_total", plain) ?? 0;
    // a TLS client without a certificate fails the handshake: counted as plaintext, bytes and all
    await new Promise<void>((resolve) => {
      const c = tls.connect({ port: server.inbound.port, host: "127.0.0.1", servername: SRV });
      c.on("error", () => undefined).on("close", () => resolve());
    });
    for (let i = 0; i < 100; i++) {
      text = await server.metrics.registry.metrics();
      if (
        sample(text, "tcp_close_total", meshed) === 1 &&
        sample(text, "tcp_close_total", plain) === 2
      )
        break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(sample(text, "tcp_close_total", meshed)).to.equal(1);
    expect(sample(text, "tcp_open_connections", meshed)).to.equal(0);
    expect(sample(text, "tcp_open_total", plain)).to.equal(2);
    expect(sample(text, "tcp_close_total", plain)).to.equal(2);
    expect(sample(text, "tcp_open_connections", plain)).to.equal(0);
    expect(sample(text, "tcp_read_bytes_total", plain)).to.be.greaterThan(plainRead + 200);
  });

  it("counts inbound refusals by reason", async () => {
    const id = ids[0];
    id.refused("unauthenticated");
    expect(await proxies[0].metrics.registry.metrics()).to.match(
      /inbound_identity_refused_total\{reason="unauthenticated"\} 1/,
    );
  });
});
