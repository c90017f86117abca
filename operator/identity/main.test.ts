import { expect } from "chai";
import { parseArgs, parseDuration, serviceIdentityOf } from "./main";
import { IdentityStartupError } from "./errors";

describe("weft-controller identity arguments", () => {
  it("has the documented defaults", () => {
    expect(parseArgs([])).to.deep.equal({
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
    expect(serviceIdentityOf(parseArgs([]))).to.equal(
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
