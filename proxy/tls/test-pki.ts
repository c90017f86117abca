// Test support: a CA and proxy credentials issued by it, through the same code paths as
// production (proxy CSR → identity CA signing → response checks).
import * as net from "node:net";
import * as tls from "node:tls";
import { generateTrust, loadIssuer, signLeaf, type Issuer } from "../../operator/identity/ca";
import { parseCsr } from "../../operator/identity/csr";
import { credentialsFromResponse, type Credentials } from "../identity/agent";
import { generateLocalKey } from "../identity/csr";

export interface TestCa {
  anchorsPem: string;
  issuer: Issuer;
  /**
   * Credentials for `identity`; `anchorsPem` overrides the bundle the holder trusts; `now` and
   * `skewMs` issue them as if at that time (in the past: an expired certificate).
   */
  issue(
    identity: string,
    opts?: { lifetimeMs?: number; anchorsPem?: string; now?: Date; skewMs?: number },
  ): Promise<Credentials>;
}

export async function testCa(): Promise<TestCa> {
  const trust = await generateTrust();
  const issuer = await loadIssuer({
    certPem: trust.issuerSecretData["tls.crt"],
    keyPem: trust.issuerSecretData["tls.key"],
    anchorsPem: trust.trustAnchorsPem,
  });
  return {
    anchorsPem: trust.trustAnchorsPem,
    issuer,
    async issue(identity, opts = {}): Promise<Credentials> {
      const local = await generateLocalKey(identity);
      const csr = await parseCsr(local.csrDer);
      const now = opts.now ?? new Date();
      const leaf = await signLeaf(issuer, csr.publicKey, {
        identity,
        lifetimeMs: opts.lifetimeMs,
        skewMs: opts.skewMs,
        now,
      });
      const ms = leaf.validUntil.getTime();
      const res = {
        leafCertificate: leaf.leafDer,
        intermediateCertificates: leaf.intermediatesDer,
        validUntil: { seconds: BigInt(Math.floor(ms / 1000)), nanos: 0 },
      };
      const creds = credentialsFromResponse(
        res,
        local,
        identity,
        trust.trustAnchorsPem,
        now.getTime(),
      );
      return { ...creds, anchorsPem: opts.anchorsPem ?? creds.anchorsPem };
    },
  };
}

/** The first bytes a TLS client sends for `servername`. */
export async function captureClientHello(servername: string): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const got = new Promise<Buffer>((resolve) =>
    server.once("connection", (s) =>
      s.once("data", (d: Buffer) => {
        resolve(d);
        s.destroy();
      }),
    ),
  );
  const c = tls.connect({
    host: "127.0.0.1",
    port: (server.address() as net.AddressInfo).port,
    servername,
    rejectUnauthorized: false,
  });
  c.on("error", () => undefined);
  const hello = await got;
  c.destroy();
  server.close();
  return hello;
}
