import { expect } from "chai";
import { generateTrust, loadIssuer } from "../identity/ca";
import {
  issuerProblem,
  issuerSecretShapeProblem,
  onlyOneMesh,
  proxyDefaultsProblems,
} from "./mesh";

describe("Mesh validation", () => {
  it("allows one Mesh per cluster", () => {
    expect(onlyOneMesh("weft", [])).to.equal(undefined);
    expect(onlyOneMesh("weft", ["weft"])).to.equal(undefined);
    expect(onlyOneMesh("second", ["weft"])).to.equal(
      'metadata.name: a Mesh named "weft" already exists; a cluster runs one Mesh — edit that one instead',
    );
  });

  it("checks proxy defaults the schema leaves open", () => {
    const errs = proxyDefaultsProblems({
      spec: {
        proxy: { opaquePorts: "25,x", logLevel: "loud" },
        excludedNamespaces: ["kube-system"],
      },
    });
    expect(errs).to.deep.equal([
      'spec.proxy.opaquePorts: "25,x" is not a list of ports or ranges; use e.g. 25,3306,8000-8100',
      'spec.proxy.logLevel: "loud" is not a level or filter; use e.g. warn,weft=info',
      "spec.excludedNamespaces: kube-system is always excluded; remove it",
    ]);
    expect(
      proxyDefaultsProblems({
        spec: { proxy: { opaquePorts: "25,8000-8100", logLevel: "warn,weft=info" } },
      }),
    ).to.deep.equal([]);
  });

  it("names the missing issuer Secret, its wrong type and missing keys", () => {
    expect(issuerSecretShapeProblem("iss", undefined)).to.match(
      /^spec\.identity\.issuer\.secretName: Secret weft-system\/iss does not exist/,
    );
    expect(issuerSecretShapeProblem("iss", { type: "Opaque", data: {} })).to.contain(
      "must be kubernetes.io/tls",
    );
    expect(
      issuerSecretShapeProblem("iss", { type: "kubernetes.io/tls", data: { "tls.crt": "x" } }),
    ).to.contain("lacks tls.key");
  });

  it("accepts a generated P-256 issuer and rejects a root presented as the issuer of other anchors", async () => {
    const trust = await generateTrust({ trustDomain: "cluster.local" });
    const secret = { type: "kubernetes.io/tls", data: trust.issuerSecretData };
    expect(await issuerProblem("iss", secret, trust.trustAnchorsPem, loadIssuer)).to.equal(
      undefined,
    );
    const bad = {
      type: "kubernetes.io/tls",
      data: { ...trust.issuerSecretData, "tls.crt": trust.trustAnchorsPem },
    };
    const other = await generateTrust({ trustDomain: "cluster.local" });
    const msg = await issuerProblem("iss", bad, other.trustAnchorsPem, loadIssuer);
    expect(msg).to.match(
      /^spec\.identity\.issuer\.secretName: Secret weft-system\/iss is not a usable issuer: .*P-256 CA/,
    );
  });
});
