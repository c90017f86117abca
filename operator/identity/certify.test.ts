import { expect } from "chai";
import { status } from "@grpc/grpc-js";
import { X509Certificate } from "node:crypto";
import { generateTrust, loadIssuer, type Issuer } from "./ca";
import {
  certify,
  identityName,
  serviceAccountFromUsername,
  tokenDecision,
  type CertifyDeps,
  type TokenReviewResult,
} from "./certify";
import { CertifyError } from "./errors";
import { IdentityMetrics } from "./metrics";
import { handleCertify } from "./server";
import type { EventTarget } from "./kube";
import { generateLocalKey, buildCsr } from "../../proxy/identity/csr";
import type { CertifyRequest } from "../../api/gen/identity";
import { webcrypto } from "node:crypto";

const ID = "web.shop.serviceaccount.identity.weft-system.cluster.local";
const WEB: TokenReviewResult = {
  authenticated: true,
  username: "system:serviceaccount:shop:web",
  audiences: ["identity.weft.io"],
};

describe("Certify", function () {
  let issuer: Issuer;
  let csrDer: Buffer;
  let reviews: string[];

  before(async () => {
    const trust = await generateTrust();
    issuer = await loadIssuer({
      certPem: trust.issuerSecretData["tls.crt"],
      keyPem: trust.issuerSecretData["tls.key"],
      anchorsPem: trust.trustAnchorsPem,
    });
    csrDer = (await generateLocalKey(ID)).csrDer;
  });
  beforeEach(() => {
    reviews = [];
  });

  function deps(review: TokenReviewResult | Error, noIssuer = false): CertifyDeps {
    return {
      issuer: () => (noIssuer ? undefined : issuer),
      review: async (token) => {
        reviews.push(token);
        if (review instanceof Error) throw review;
        return review;
      },
      trustDomain: "cluster.local",
      controlPlaneNamespace: "weft-system",
      leafLifetimeMs: 24 * 3600_000,
      clockSkewMs: 20_000,
      now: () => new Date(),
    };
  }

  function req(over: Partial<CertifyRequest> = {}): CertifyRequest {
    return {
      identity: ID,
      token: Buffer.from("tok-web"),
      certificateSigningRequest: csrDer,
      ...over,
    };
  }

  async function refusal(r: CertifyRequest, d: CertifyDeps): Promise<CertifyError> {
    const err = await certify(r, d).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(CertifyError);
    return err as CertifyError;
  }

  it("answers UNAVAILABLE before anything else while no issuer is loaded", async () => {
    const err = await refusal(req({ identity: "", token: Buffer.alloc(0) }), deps(WEB, true));
    expect(err.grpcStatus).to.equal(status.UNAVAILABLE);
    expect(err.code).to.equal("WEFT_ERR_IDENTITY_ISSUER_NOT_LOADED");
  });

  it("answers INVALID_ARGUMENT for each empty field, without asking the API server", async () => {
    for (const over of [
      { identity: "" },
      { token: Buffer.alloc(0) },
      { certificateSigningRequest: Buffer.alloc(0) },
    ]) {
      const err = await refusal(req(over), deps(WEB));
      expect(err.grpcStatus).to.equal(status.INVALID_ARGUMENT);
      expect(err.reason).to.equal("empty_field");
    }
    expect(reviews).to.deep.equal([]);
  });

  it("answers INVALID_ARGUMENT for bytes that are no CSR", async () => {
    const err = await refusal(
      req({ certificateSigningRequest: Buffer.from([1, 2, 3]) }),
      deps(WEB),
    );
    expect(err.grpcStatus).to.equal(status.INVALID_ARGUMENT);
    expect(err.code).to.equal("WEFT_ERR_IDENTITY_CSR_MALFORMED");
  });

  it("answers FAILED_PRECONDITION for a CSR not for the identity, before the TokenReview", async () => {
    const other = (
      await generateLocalKey("db.shop.serviceaccount.identity.weft-system.cluster.local")
    ).csrDer;
    const err = await refusal(req({ certificateSigningRequest: other }), deps(WEB));
    expect(err.grpcStatus).to.equal(status.FAILED_PRECONDITION);
    expect(err.code).to.equal("WEFT_ERR_IDENTITY_CSR_REJECTED");
    expect(reviews).to.deep.equal([]);
  });

  it("answers FAILED_PRECONDITION for a non-ECDSA CSR and for an IP SAN", async () => {
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
    const rsaCsr = await buildCsr({ dnsNames: [ID], commonName: "" }, rsa);
    expect(
      (await refusal(req({ certificateSigningRequest: rsaCsr }), deps(WEB))).grpcStatus,
    ).to.equal(status.FAILED_PRECONDITION);
    const ec = (await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as webcrypto.CryptoKeyPair;
    const ipCsr = await buildCsr(
      {
        dnsNames: [ID],
        commonName: "",
        extraNames: [{ type: 7, value: new Uint8Array([127, 0, 0, 1]) }],
      },
      ec,
    );
    expect(
      (await refusal(req({ certificateSigningRequest: ipCsr }), deps(WEB))).grpcStatus,
    ).to.equal(status.FAILED_PRECONDITION);
  });

  it("answers FAILED_PRECONDITION for an unauthenticated token and sends the token to the review", async () => {
    const err = await refusal(req(), deps({ authenticated: false, error: "token has expired" }));
    expect(err.grpcStatus).to.equal(status.FAILED_PRECONDITION);
    expect(err.message).to.contain("token has expired");
    expect(reviews).to.deep.equal(["tok-web"]);
  });

  it("answers INVALID_ARGUMENT for a token whose user is no service account", async () => {
    const err = await refusal(req(), deps({ authenticated: true, username: "alice" }));
    expect(err.grpcStatus).to.equal(status.INVALID_ARGUMENT);
    expect(err.code).to.equal("WEFT_ERR_IDENTITY_TOKEN_MALFORMED");
  });

  it("answers FAILED_PRECONDITION for another service account's token", async () => {
    const err = await refusal(
      req(),
      deps({ authenticated: true, username: "system:serviceaccount:shop:db" }),
    );
    expect(err.grpcStatus).to.equal(status.FAILED_PRECONDITION);
    expect(err.code).to.equal("WEFT_ERR_IDENTITY_TOKEN_MISMATCH");
  });

  it("answers UNAVAILABLE when the API server cannot be asked", async () => {
    const err = await refusal(req(), deps(new Error("connect ECONNREFUSED")));
    expect(err.grpcStatus).to.equal(status.UNAVAILABLE);
  });

  it("signs a leaf for the identity with the issuer as intermediate", async () => {
    const out = await certify(req(), deps(WEB));
    const leaf = new X509Certificate(out.response.leafCertificate);
    expect(leaf.subjectAltName).to.equal(`DNS:${ID}`);
    expect(out.response.intermediateCertificates).to.deep.equal(issuer.chainDer);
    const until = out.response.validUntil!;
    expect(Number(until.seconds) * 1000 + until.nanos / 1e6).to.equal(
      new Date(leaf.validTo).getTime(),
    );
    expect(out.serviceAccount).to.deep.equal({ namespace: "shop", name: "web" });
  });

  it("counts issued certificates and rejections by reason, and records IssuedLeafCertificate", async () => {
    const metrics = new IdentityMetrics();
    const events: [EventTarget, string, string][] = [];
    const opts = {
      ...deps(WEB),
      metrics,
      events: (t: EventTarget, type: string, reason: string) => void events.push([t, type, reason]),
    };
    await handleCertify(opts, req());
    await handleCertify(opts, req({ token: Buffer.alloc(0) })).catch(() => undefined);
    const text = await metrics.registry.metrics();
    expect(text).to.match(/^identity_certificates_issued_total 1$/m);
    expect(text).to.match(/^identity_certify_rejections_total\{reason="empty_field"\} 1$/m);
    expect(events).to.deep.equal([
      [
        { kind: "ServiceAccount", apiVersion: "v1", namespace: "shop", name: "web" },
        "Normal",
        "IssuedLeafCertificate",
      ],
    ]);
  });
});

describe("token decisions", () => {
  const where = { controlPlaneNamespace: "weft-system", trustDomain: "example.org" };

  it("maps service-account usernames and identity names", () => {
    expect(serviceAccountFromUsername("system:serviceaccount:ns:sa")).to.deep.equal({
      namespace: "ns",
      name: "sa",
    });
    expect(serviceAccountFromUsername("system:serviceaccount:ns")).to.equal(undefined);
    expect(serviceAccountFromUsername("system:node:ns:sa")).to.equal(undefined);
    expect(identityName({ namespace: "ns", name: "sa" }, "weft-system", "example.org")).to.equal(
      "sa.ns.serviceaccount.identity.weft-system.example.org",
    );
  });

  it("refuses a review for another audience", () => {
    const d = tokenDecision(
      {
        authenticated: true,
        username: "system:serviceaccount:ns:sa",
        audiences: ["https://kubernetes.default.svc"],
      },
      "sa.ns.serviceaccount.identity.weft-system.example.org",
      where,
    );
    expect(d).to.be.instanceOf(CertifyError);
    expect((d as CertifyError).grpcStatus).to.equal(status.INVALID_ARGUMENT);
  });

  it("accepts the matching service account under the configured trust domain", () => {
    const d = tokenDecision(
      { authenticated: true, username: "system:serviceaccount:ns:sa" },
      "sa.ns.serviceaccount.identity.weft-system.example.org",
      where,
    );
    expect(d).to.deep.equal({ namespace: "ns", name: "sa" });
  });
});
