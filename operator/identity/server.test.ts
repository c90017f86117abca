import { expect } from "chai";
import * as grpc from "@grpc/grpc-js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { generateTrust, loadIssuer, type Issuer } from "./ca";
import type { TokenReviewResult } from "./certify";
import { IdentityMetrics } from "./metrics";
import { ServingCertificate } from "./self-tls";
import { startIdentityServer, type RunningServer } from "./server";
import { IdentityAgent } from "../../proxy/identity/agent";
import { generateLocalKey } from "../../proxy/identity/csr";
import { grpcCertifyTransport } from "../../proxy/identity/transport";

const WEB = "web.shop.serviceaccount.identity.weft-system.cluster.local";

/** The only fake: the TokenReview call, answering by token. */
const TOKENS: Record<string, TokenReviewResult> = {
  "tok-web": {
    authenticated: true,
    username: "system:serviceaccount:shop:web",
    audiences: ["identity.weft.io"],
  },
  "tok-db": {
    authenticated: true,
    username: "system:serviceaccount:shop:db",
    audiences: ["identity.weft.io"],
  },
};

describe("Certify over gRPC with the proxy's client (loopback)", function () {
  let issuer: Issuer | undefined;
  let anchors: string;
  let server: RunningServer;
  let metrics: IdentityMetrics;
  let dir: string;

  before(async () => {
    const trust = await generateTrust();
    anchors = trust.trustAnchorsPem;
    issuer = await loadIssuer({
      certPem: trust.issuerSecretData["tls.crt"],
      keyPem: trust.issuerSecretData["tls.key"],
      anchorsPem: anchors,
    });
    metrics = new IdentityMetrics();
    server = await startIdentityServer(
      {
        issuer: () => issuer,
        review: async (token) =>
          TOKENS[token] ?? { authenticated: false, error: "invalid bearer token" },
        trustDomain: "cluster.local",
        controlPlaneNamespace: "weft-system",
        leafLifetimeMs: 24 * 3600_000,
        clockSkewMs: 20_000,
        now: () => new Date(),
        metrics,
      },
      "127.0.0.1:0",
    );
    dir = mkdtempSync(join(tmpdir(), "weft-certify-"));
  });
  after(() => server.close());

  function tokenFile(token: string): string {
    const f = join(dir, token);
    writeFileSync(f, token);
    return f;
  }

  it("certifies a real CSR from the proxy agent and opens its gate", async () => {
    let ready = false;
    const transport = grpcCertifyTransport(`127.0.0.1:${server.port}`);
    const agent = new IdentityAgent({
      identity: WEB,
      tokenFile: tokenFile("tok-web"),
      anchorsPem: anchors,
      transport,
      gate: { ready: () => (ready = true) },
    });
    await agent.start();
    const creds = await agent.firstCredentials();
    agent.stop();
    transport.close();
    expect(ready).to.equal(true);
    const leaf = new X509Certificate(creds.certChainPem);
    expect(leaf.subjectAltName).to.equal(`DNS:${WEB}`);
    const hours = (Date.parse(leaf.validTo) - Date.now()) / 3600_000;
    expect(hours).to.be.within(24, 24.01);
    expect(await metrics.registry.metrics()).to.match(/^identity_certificates_issued_total [1-9]/m);
  });

  async function call(identity: string, token: string, csr?: Buffer): Promise<grpc.status | "OK"> {
    const transport = grpcCertifyTransport(`127.0.0.1:${server.port}`);
    const csrDer = csr ?? (await generateLocalKey(identity)).csrDer;
    try {
      await transport.certify({
        identity,
        token: Buffer.from(token),
        certificateSigningRequest: csrDer,
      });
      return "OK";
    } catch (err) {
      return (err as grpc.ServiceError).code;
    } finally {
      transport.close();
    }
  }

  it("answers each refusal with its status over the wire", async () => {
    expect(await call(WEB, "tok-web")).to.equal("OK");
    expect(await call(WEB, "tok-db")).to.equal(grpc.status.FAILED_PRECONDITION);
    expect(await call(WEB, "forged")).to.equal(grpc.status.FAILED_PRECONDITION);
    expect(await call(WEB, "")).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(await call(WEB, "tok-web", Buffer.from("junk"))).to.equal(grpc.status.INVALID_ARGUMENT);
    const other = (
      await generateLocalKey("db.shop.serviceaccount.identity.weft-system.cluster.local")
    ).csrDer;
    expect(await call(WEB, "tok-web", other)).to.equal(grpc.status.FAILED_PRECONDITION);
    const saved = issuer;
    issuer = undefined;
    try {
      expect(await call(WEB, "tok-web")).to.equal(grpc.status.UNAVAILABLE);
    } finally {
      issuer = saved;
    }
    const text = await metrics.registry.metrics();
    expect(text).to.match(/identity_certify_rejections_total\{reason="identity_mismatch"\} 1/);
    expect(text).to.match(
      /identity_certify_rejections_total\{reason="token_not_authenticated"\} 1/,
    );
    expect(text).to.match(/identity_certify_rejections_total\{reason="issuer_not_loaded"\} 1/);
    expect(text).to.match(/identity_certify_rejections_total\{reason="csr_rejected"\} 1/);
  });
});

describe("Certify over TLS with the service's own certificate (loopback)", function () {
  const SVC = "weft-identity.weft-system.serviceaccount.identity.weft-system.cluster.local";
  let trust: Awaited<ReturnType<typeof generateTrust>>;
  let issuer: Issuer;
  let serving: ServingCertificate;
  let server: RunningServer;

  before(async () => {
    trust = await generateTrust();
    issuer = await loadIssuer({
      certPem: trust.issuerSecretData["tls.crt"],
      keyPem: trust.issuerSecretData["tls.key"],
      anchorsPem: trust.trustAnchorsPem,
    });
    serving = new ServingCertificate(SVC, 3600_000);
    await serving.follow(issuer);
    server = await startIdentityServer(
      {
        issuer: () => issuer,
        review: async (token) => TOKENS[token] ?? { authenticated: false },
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
  });
  after(async () => {
    serving.stop();
    await server.close();
  });

  async function attempt(
    tls: { serverName: string; anchorsPem: string } | undefined,
  ): Promise<string> {
    const transport = grpcCertifyTransport(`127.0.0.1:${server.port}`, tls, 3000);
    try {
      const csr = (await generateLocalKey(WEB)).csrDer;
      await transport.certify({
        identity: WEB,
        token: Buffer.from("tok-web"),
        certificateSigningRequest: csr,
      });
      return "OK";
    } catch (err) {
      return grpc.status[(err as grpc.ServiceError).code];
    } finally {
      transport.close();
    }
  }

  it("answers a client that verifies the anchors and the service identity", async () => {
    expect(await attempt({ serverName: SVC, anchorsPem: trust.trustAnchorsPem })).to.equal("OK");
  });

  it("is refused by a client expecting another name or trusting other anchors, and by plaintext", async () => {
    const other = await generateTrust();
    expect(
      await attempt({
        serverName: "other.ns.serviceaccount.identity.weft-system.cluster.local",
        anchorsPem: trust.trustAnchorsPem,
      }),
    ).to.equal("UNAVAILABLE");
    expect(await attempt({ serverName: SVC, anchorsPem: other.trustAnchorsPem })).to.equal(
      "UNAVAILABLE",
    );
    expect(await attempt(undefined)).to.equal("UNAVAILABLE");
  });

  it("re-issues its certificate when the issuer changes, without rebinding", async () => {
    const next = await generateTrust();
    const nextIssuer = await loadIssuer({
      certPem: next.issuerSecretData["tls.crt"],
      keyPem: next.issuerSecretData["tls.key"],
      anchorsPem: next.trustAnchorsPem,
    });
    await serving.follow(nextIssuer);
    expect(await attempt({ serverName: SVC, anchorsPem: next.trustAnchorsPem })).to.equal("OK");
  });
});
