import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { X509Certificate, webcrypto } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  generateIssuer,
  generateRoot,
  generateTrust,
  leafValidity,
  loadIssuer,
  signLeaf,
  trustRootSha256,
  verifyChain,
  type Issuer,
} from "./ca";
import { csrProblem, parseCsr, CsrParseError } from "./csr";
import { pemCertificates } from "./pem";
import { buildCsr, generateLocalKey } from "../../proxy/identity/csr";

const ID = "web.shop.serviceaccount.identity.weft-system.cluster.local";

async function p256(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
}

describe("identity CA", function () {
  let trust: Awaited<ReturnType<typeof generateTrust>>;
  let issuer: Issuer;

  before(async () => {
    trust = await generateTrust({ trustDomain: "cluster.local" });
    issuer = await loadIssuer({
      certPem: trust.issuerSecretData["tls.crt"],
      keyPem: trust.issuerSecretData["tls.key"],
      anchorsPem: trust.trustAnchorsPem,
    });
  });

  it("generates a P-256 root and a path-length-0 issuer that chains to it", () => {
    const root = new X509Certificate(pemCertificates(trust.trustAnchorsPem)[0]);
    const inter = new X509Certificate(pemCertificates(trust.issuerSecretData["tls.crt"])[0]);
    expect(root.ca).to.equal(true);
    expect(root.subject).to.equal("CN=root.weft.cluster.local");
    expect(root.publicKey.asymmetricKeyDetails?.namedCurve).to.equal("prime256v1");
    expect(inter.ca).to.equal(true);
    expect(inter.subject).to.equal("CN=identity.weft-system.cluster.local");
    expect(inter.checkIssued(root)).to.equal(true);
    expect(inter.verify(root.publicKey)).to.equal(true);
    expect(inter.toLegacyObject().ext_key_usage).to.equal(undefined);
    expect(trust.issuerSecretData["ca.crt"]).to.equal(trust.trustAnchorsPem);
  });

  it("computes the trust-root sha256 of the bundle", () => {
    expect(trust.trustRootSha256).to.match(/^[0-9a-f]{64}$/);
    expect(trustRootSha256(trust.trustAnchorsPem)).to.equal(trust.trustRootSha256);
    expect(trustRootSha256(trust.trustAnchorsPem + "\n")).to.not.equal(trust.trustRootSha256);
  });

  it("signs a leaf with exactly the reference extensions and validity", async () => {
    const local = await generateLocalKey(ID);
    const csr = await parseCsr(local.csrDer);
    expect(csrProblem(csr, ID)).to.equal(undefined);
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const leaf = await signLeaf(issuer, csr.publicKey, { identity: ID, now });
    const x = new X509Certificate(leaf.leafDer);
    expect(x.subjectAltName).to.equal(`DNS:${ID}`);
    expect(x.ca).to.equal(false);
    expect(x.keyUsage).to.have.members(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    const text = x.toString();
    expect(x.publicKey.asymmetricKeyDetails?.namedCurve).to.equal("prime256v1");
    expect(new Date(x.validFrom).getTime()).to.equal(now.getTime() - 20_000);
    expect(new Date(x.validTo).getTime()).to.equal(now.getTime() + 24 * 3600_000 + 20_000);
    expect(leaf.validUntil.getTime()).to.equal(now.getTime() + 24 * 3600_000 + 20_000);
    expect(text).to.be.a("string");
    expect(leaf.intermediatesDer).to.have.length(1);
    const anchors = pemCertificates(trust.trustAnchorsPem);
    expect(
      verifyChain([leaf.leafDer, ...leaf.intermediatesDer], anchors, new Date()),
    ).to.deep.equal({ ok: true });
    // key usage bits and signature algorithm, read with OpenSSL's own parser
    const dump = execFileSync("openssl", ["x509", "-inform", "DER", "-noout", "-text"], {
      input: leaf.leafDer,
    }).toString();
    expect(dump).to.match(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
    expect(dump).to.match(
      /X509v3 Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/,
    );
    expect(dump).to.match(/Signature Algorithm: ecdsa-with-SHA256/);
  });

  it("clamps a leaf's expiry to the issuer's", async () => {
    const now = new Date();
    const root = await generateRoot({ now });
    const shortIssuer = await generateIssuer(root, { now, issuerLifetimeMs: 3600_000 });
    const loaded = await loadIssuer({
      certPem: shortIssuer.certPem,
      keyPem: shortIssuer.keyPem,
      anchorsPem: root.certPem,
    });
    const csr = await parseCsr((await generateLocalKey(ID)).csrDer);
    const leaf = await signLeaf(loaded, csr.publicKey, { identity: ID, now });
    expect(leaf.validUntil.getTime()).to.equal(loaded.notAfter.getTime());
    expect(leaf.validUntil.getTime()).to.be.lessThan(now.getTime() + 3601_000);
  });

  it("computes validity windows as a pure function", () => {
    const now = new Date("2026-01-01T00:00:00Z");
    const far = new Date("2027-01-01T00:00:00Z");
    expect(leafValidity(now, 30_000, 20_000, far).map((d) => d.toISOString())).to.deep.equal([
      "2025-12-31T23:59:40.000Z",
      "2026-01-01T00:00:50.000Z",
    ]);
    const near = new Date("2026-01-01T00:00:10Z");
    expect(leafValidity(now, 30_000, 20_000, near)[1]).to.equal(near);
  });

  it("refuses an issuer whose key does not match, that is no CA, or that no anchor signed", async () => {
    const other = await generateTrust();
    const mismatched = loadIssuer({
      certPem: trust.issuerSecretData["tls.crt"],
      keyPem: other.issuerSecretData["tls.key"],
      anchorsPem: trust.trustAnchorsPem,
    });
    await expectCode(mismatched, "WEFT_ERR_ISSUER_KEY");
    const untrusted = loadIssuer({
      certPem: other.issuerSecretData["tls.crt"],
      keyPem: other.issuerSecretData["tls.key"],
      anchorsPem: trust.trustAnchorsPem,
    });
    await expectCode(untrusted, "WEFT_ERR_ISSUER_UNTRUSTED");
    await expectCode(
      loadIssuer({ certPem: "", keyPem: "", anchorsPem: trust.trustAnchorsPem }),
      "WEFT_ERR_ISSUER_PEM",
    );
    const leafCsr = await parseCsr((await generateLocalKey(ID)).csrDer);
    const leaf = await signLeaf(issuer, leafCsr.publicKey, { identity: ID });
    const leafPem = `-----BEGIN CERTIFICATE-----\n${leaf.leafDer.toString("base64")}\n-----END CERTIFICATE-----\n`;
    await expectCode(
      loadIssuer({ certPem: leafPem, keyPem: "x", anchorsPem: trust.trustAnchorsPem }),
      "WEFT_ERR_ISSUER_NOT_CA",
    );
  });

  it("accepts a SEC1 EC key (cert-manager's default encoding)", async () => {
    const { createPrivateKey } = await import("node:crypto");
    const sec1 = createPrivateKey(trust.issuerSecretData["tls.key"])
      .export({ format: "pem", type: "sec1" })
      .toString();
    expect(sec1).to.contain("EC PRIVATE KEY");
    const loaded = await loadIssuer({
      certPem: trust.issuerSecretData["tls.crt"],
      keyPem: sec1,
      anchorsPem: trust.trustAnchorsPem,
    });
    expect(loaded.notAfter.getTime()).to.equal(issuer.notAfter.getTime());
  });

  it("rejects chains from another CA, expired leaves and non-CA links", async () => {
    const other = await generateTrust();
    const csr = await parseCsr((await generateLocalKey(ID)).csrDer);
    const leaf = await signLeaf(issuer, csr.publicKey, {
      identity: ID,
      lifetimeMs: 1000,
      skewMs: 0,
    });
    const chain = [leaf.leafDer, ...leaf.intermediatesDer];
    expect(verifyChain(chain, pemCertificates(other.trustAnchorsPem), new Date()).ok).to.equal(
      false,
    );
    const later = new Date(Date.now() + 5000);
    const expired = verifyChain(chain, pemCertificates(trust.trustAnchorsPem), later);
    expect(expired.ok).to.equal(false);
    expect(
      verifyChain([leaf.leafDer, leaf.leafDer], pemCertificates(trust.trustAnchorsPem), new Date())
        .ok,
    ).to.equal(false);
  });
});

describe("CSR checks", function () {
  let key: webcrypto.CryptoKeyPair;
  before(async () => {
    key = await p256();
  });

  async function problem(
    spec: Parameters<typeof buildCsr>[0],
    keys = key,
  ): Promise<string | undefined> {
    return csrProblem(await parseCsr(await buildCsr(spec, keys)), ID);
  }

  it("accepts one DNS SAN equal to the identity with CN empty or equal", async () => {
    expect(await problem({ dnsNames: [ID], commonName: "" })).to.equal(undefined);
    expect(await problem({ dnsNames: [ID], commonName: ID })).to.equal(undefined);
  });

  it("refuses a wrong SAN, two SANs, no SAN and a CN mismatch", async () => {
    expect(
      await problem({
        dnsNames: ["other.ns.serviceaccount.identity.weft-system.cluster.local"],
        commonName: "",
      }),
    ).to.match(/not the requested identity/);
    expect(await problem({ dnsNames: [ID, "x.example"], commonName: "" })).to.match(
      /exactly one DNS SAN, got 2/,
    );
    expect(await problem({ dnsNames: [], commonName: ID })).to.match(/exactly one DNS SAN, got 0/);
    expect(await problem({ dnsNames: [ID], commonName: "someone-else" })).to.match(
      /CN must be empty or equal/,
    );
  });

  it("refuses IP, URI and email SANs", async () => {
    const ip = await problem({
      dnsNames: [ID],
      commonName: "",
      extraNames: [{ type: 7, value: new Uint8Array([10, 0, 0, 1]) }],
    });
    const uri = await problem({
      dnsNames: [ID],
      commonName: "",
      extraNames: [{ type: 6, value: "spiffe://x/y" }],
    });
    const mail = await problem({
      dnsNames: [ID],
      commonName: "",
      extraNames: [{ type: 1, value: "a@b.c" }],
    });
    for (const p of [ip, uri, mail]) expect(p).to.match(/only a DNS SAN/);
  });

  it("refuses non-P-256 keys", async () => {
    const p384 = (await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, true, [
      "sign",
      "verify",
    ])) as webcrypto.CryptoKeyPair;
    expect(await problem({ dnsNames: [ID], commonName: "" }, p384)).to.match(
      /ECDSA P-256, got ecdsa curve 1\.3\.132\.0\.34/,
    );
    const rsa = (await webcrypto.subtle.generateKey(
      {
        name: "RSASSA-PKCS1-v1_5",
        modulusLength: 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: "SHA-256",
      },
      true,
      ["sign", "verify"],
    )) as webcrypto.CryptoKeyPair;
    expect(await problem({ dnsNames: [ID], commonName: "" }, rsa)).to.match(
      /ECDSA P-256, got algorithm 1\.2\.840\.113549\.1\.1\.1/,
    );
  });

  it("refuses a CSR whose signature does not verify", async () => {
    const der = await buildCsr({ dnsNames: [ID], commonName: "" }, key);
    der[der.length - 5] ^= 0xff;
    // the last bytes are inside the signature's INTEGER s: the encoding stays valid
    expect(csrProblem(await parseCsr(der), ID)).to.match(/signature does not verify/);
  });

  it("throws CsrParseError on bytes that are no CSR", async () => {
    const err = await parseCsr(Buffer.from("not a csr")).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(CsrParseError);
    expect((err as CsrParseError).code).to.equal("WEFT_ERR_IDENTITY_CSR_MALFORMED");
  });
});

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).to.have.property("code", code);
}

describe("interoperability with OpenSSL", function () {
  const dir = mkdtempSync(join(tmpdir(), "weft-openssl-"));

  it("accepts a CSR OpenSSL made and issues a leaf `openssl verify` accepts for serverAuth and clientAuth", async () => {
    execFileSync(
      "openssl",
      [
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        join(dir, "k.pem"),
        "-subj",
        `/CN=${ID}`,
        "-addext",
        `subjectAltName=DNS:${ID}`,
        "-outform",
        "DER",
        "-out",
        join(dir, "csr.der"),
      ],
      { stdio: "pipe" },
    );
    const csr = await parseCsr(readFileSync(join(dir, "csr.der")));
    expect(csrProblem(csr, ID)).to.equal(undefined);
    const trust = await generateTrust();
    const issuer = await loadIssuer({
      certPem: trust.issuerSecretData["tls.crt"],
      keyPem: trust.issuerSecretData["tls.key"],
      anchorsPem: trust.trustAnchorsPem,
    });
    const leaf = await signLeaf(issuer, csr.publicKey, { identity: ID });
    writeFileSync(join(dir, "root.pem"), trust.trustAnchorsPem);
    writeFileSync(join(dir, "issuer.pem"), trust.issuerSecretData["tls.crt"]);
    writeFileSync(join(dir, "leaf.der"), leaf.leafDer);
    execFileSync("openssl", [
      "x509",
      "-inform",
      "DER",
      "-in",
      join(dir, "leaf.der"),
      "-out",
      join(dir, "leaf.pem"),
    ]);
    for (const purpose of ["sslserver", "sslclient"]) {
      const out = execFileSync("openssl", [
        "verify",
        "-x509_strict",
        "-purpose",
        purpose,
        "-CAfile",
        join(dir, "root.pem"),
        "-untrusted",
        join(dir, "issuer.pem"),
        join(dir, "leaf.pem"),
      ]).toString();
      expect(out.trim()).to.equal(`${join(dir, "leaf.pem")}: OK`);
    }
  });

  it("refuses an RSA CSR OpenSSL made", async () => {
    execFileSync(
      "openssl",
      [
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        join(dir, "rk.pem"),
        "-subj",
        `/CN=${ID}`,
        "-addext",
        `subjectAltName=DNS:${ID}`,
        "-outform",
        "DER",
        "-out",
        join(dir, "rsa.der"),
      ],
      { stdio: "pipe" },
    );
    expect(csrProblem(await parseCsr(readFileSync(join(dir, "rsa.der"))), ID)).to.match(
      /ECDSA P-256/,
    );
  });
});
