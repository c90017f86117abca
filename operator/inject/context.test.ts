import { expect } from "chai";
import { contextFromMesh, supportsNativeSidecars } from "./context";

describe("contextFromMesh", () => {
  it("takes proxy defaults, trust domain and exclusions from the Mesh", () => {
    const ctx = contextFromMesh(
      {
        spec: {
          version: "0.2.0",
          trustDomain: "example.org",
          excludedNamespaces: ["legacy"],
          proxy: {
            logLevel: "debug",
            cpu: { request: "100m", limit: 1 },
            memory: { limit: "128Mi" },
            opaquePorts: "3306",
            nativeSidecar: false,
          },
        },
      },
      { anchorsPem: "PEM", sha256: "abc" },
      true,
    );
    expect(ctx).to.deep.include({
      trustDomain: "example.org",
      excludedNamespaces: ["legacy"],
      trustAnchorsPem: "PEM",
      trustRootSha256: "abc",
    });
    expect(ctx.defaults).to.deep.include({
      image: "docker.io/weft/proxy",
      version: "0.2.0",
      logLevel: "debug",
      nativeSidecar: false,
    });
    expect(ctx.defaults.resources).to.deep.include({
      cpuRequest: "100m",
      cpuLimit: "1",
      memoryLimit: "128Mi",
    });
    expect(ctx.defaults.defaultOpaquePorts).to.deep.equal([[3306, 3306]]);
  });

  it("works before any Mesh exists, with identity disabled", () => {
    const ctx = contextFromMesh(undefined, {}, true);
    expect(ctx.trustAnchorsPem).to.equal(undefined);
    expect(ctx.defaults.defaultOpaquePorts.map((r) => r[0])).to.include(5432);
  });

  it("knows which Kubernetes versions run native sidecars", () => {
    expect(supportsNativeSidecars("1", "28")).to.equal(false);
    expect(supportsNativeSidecars("1", "29+")).to.equal(true);
    expect(supportsNativeSidecars("1", "33")).to.equal(true);
  });
});
