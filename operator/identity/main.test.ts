import { expect } from "chai";
import { parseArgs, parseDuration, serviceIdentityOf, untilReachable } from "./main";
import { IdentityStartupError } from "./errors";

describe("weft-controller identity arguments", () => {
  it("has the documented defaults", () => {
    expect(parseArgs([], {})).to.deep.equal({
      addr: "0.0.0.0:8080",
      adminAddr: "0.0.0.0:9990",
      namespace: "weft-system",
      trustDomain: "cluster.local",
      issuerSecret: "weft-identity-issuer",
      trustRootsConfigMap: "weft-identity-trust-roots",
      leafLifetimeMs: 24 * 3600_000,
      clockSkewMs: 20_000,
      kubeconfig: undefined,
      serviceIdentity: "",
      insecure: false,
    });
  });

  it("takes what the Mesh reconciler sets in the environment, flags winning", () => {
    const env = {
      WEFT_CONTROL_PLANE_NS: "mesh-system",
      WEFT_TRUST_DOMAIN: "example.org",
      WEFT_LISTEN_PORT: "8081",
      WEFT_IDENTITY_ISSUER_SECRET: "my-issuer",
      WEFT_IDENTITY_TRUST_ANCHORS_CONFIGMAP: "my-roots",
      WEFT_IDENTITY_ISSUANCE_LIFETIME: "48h",
      WEFT_IDENTITY_CLOCK_SKEW_ALLOWANCE: "30s",
    };
    const a = parseArgs(["--trust-domain=override.org"], env);
    expect(a).to.include({
      namespace: "mesh-system",
      trustDomain: "override.org",
      addr: "0.0.0.0:8081",
      issuerSecret: "my-issuer",
      trustRootsConfigMap: "my-roots",
      leafLifetimeMs: 48 * 3600_000,
      clockSkewMs: 30_000,
    });
    expect(serviceIdentityOf(a)).to.equal(
      "weft-identity.mesh-system.serviceaccount.identity.mesh-system.override.org",
    );
    expect(() => parseArgs([], { WEFT_IDENTITY_ISSUANCE_LIFETIME: "forever" })).to.throw(
      /not a duration/,
    );
  });

  it("reads --flag=value and --flag value", () => {
    const a = parseArgs([
      "--trust-domain=example.org",
      "--leaf-lifetime",
      "1h30m",
      "--clock-skew=500ms",
      "--kubeconfig",
      "/k",
    ]);
    expect(a).to.include({
      trustDomain: "example.org",
      leafLifetimeMs: 5_400_000,
      clockSkewMs: 500,
      kubeconfig: "/k",
    });
  });

  it("serves TLS as weft-identity unless --insecure", () => {
    expect(serviceIdentityOf(parseArgs([], {}))).to.equal(
      "weft-identity.weft-system.serviceaccount.identity.weft-system.cluster.local",
    );
    expect(serviceIdentityOf(parseArgs(["--service-identity=x.y"]))).to.equal("x.y");
    expect(parseArgs(["--insecure"]).insecure).to.equal(true);
    expect(parseArgs(["--insecure=false"]).insecure).to.equal(false);
    expect(() => parseArgs(["--insecure=yes"])).to.throw(IdentityStartupError);
  });

  it("refuses unknown flags, missing values and bad durations", () => {
    expect(() => parseArgs(["--nope=1"])).to.throw(
      IdentityStartupError,
      /unknown argument --nope=1/,
    );
    expect(() => parseArgs(["--addr"])).to.throw(IdentityStartupError, /--addr needs a value/);
    expect(() => parseDuration("24")).to.throw(IdentityStartupError, /not a duration/);
    expect(() => parseDuration("1h 2m")).to.throw(IdentityStartupError);
    expect(parseDuration("20s")).to.equal(20_000);
  });
});

describe("startup self-check retries", () => {
  it("retries unreachable API servers but not a refusal", async () => {
    let calls = 0;
    await untilReachable(async () => {
      if (++calls < 2) throw new Error("ECONNREFUSED");
    });
    expect(calls).to.equal(2);
    calls = 0;
    const denied = await untilReachable(async () => {
      calls++;
      throw new IdentityStartupError("may not create tokenreviews");
    }).catch((e: unknown) => e);
    expect(denied).to.be.instanceOf(IdentityStartupError);
    expect(calls).to.equal(1);
    const gaveUp = await untilReachable(async () => {
      throw new Error("down");
    }, 1).catch((e: unknown) => e);
    expect((gaveUp as Error).message).to.equal("down");
  });
});
