import { expect } from "chai";
import { PeprValidateRequest } from "pepr";
import { generateTrust, loadIssuer } from "../identity/ca";
import { admission } from "./fixtures";
import {
  validateMeshRequest,
  validateServiceProfileRequest,
  type MeshValidationDeps,
} from "./validators";

const SP_GVK = {
  group: "weft.io",
  version: "v1alpha2",
  kind: "ServiceProfile",
  resource: "serviceprofiles",
};
const MESH_GVK = { group: "weft.io", version: "v1alpha1", kind: "Mesh", resource: "meshes" };

function spRequest(spec: unknown) {
  const sp = {
    apiVersion: "weft.io/v1alpha2",
    kind: "ServiceProfile",
    metadata: { name: "web.shop.svc.cluster.local", namespace: "shop" },
    spec,
  };
  return new PeprValidateRequest(admission(sp as never, SP_GVK) as never);
}

function meshRequest(spec: unknown, name = "weft", operation: "CREATE" | "UPDATE" = "CREATE") {
  const mesh = { apiVersion: "weft.io/v1alpha1", kind: "Mesh", metadata: { name }, spec };
  return new PeprValidateRequest(admission(mesh as never, MESH_GVK, { operation }) as never);
}

function deps(over: Partial<MeshValidationDeps> = {}): MeshValidationDeps {
  return {
    meshNames: async () => [],
    secret: async () => undefined,
    configMap: async () => undefined,
    loadIssuer,
    ...over,
  };
}

describe("validating handlers (PeprValidateRequest)", () => {
  it("accepts a valid ServiceProfile", () => {
    const r = validateServiceProfileRequest(
      spRequest({ routes: [{ name: "a", condition: { method: "GET" }, timeout: "1s" }] }) as never,
    );
    expect(r.allowed).to.equal(true);
  });

  it("denies an invalid ServiceProfile with a message naming the field", () => {
    const r = validateServiceProfileRequest(
      spRequest({
        routes: [{ name: "a", condition: { method: "GET" }, timeout: "fast" }],
      }) as never,
    );
    expect(r.allowed).to.equal(false);
    expect(r.statusCode).to.equal(422);
    expect(r.statusMessage).to.equal(
      'ServiceProfile web.shop.svc.cluster.local is invalid: spec.routes[0].timeout: "fast" is not a duration; use e.g. 300ms, 2s or 1m',
    );
  });

  it("denies a second Mesh but not an update of the first", async () => {
    const d = deps({ meshNames: async () => ["weft"] });
    const second = await validateMeshRequest(meshRequest({}, "other") as never, d);
    expect(second.allowed).to.equal(false);
    expect(second.statusMessage).to.contain('a Mesh named "weft" already exists');
    expect(
      (await validateMeshRequest(meshRequest({}, "weft", "UPDATE") as never, d)).allowed,
    ).to.equal(true);
  });

  it("denies a Mesh whose issuer Secret is missing, and accepts a real P-256 issuer", async () => {
    const missing = await validateMeshRequest(
      meshRequest({ identity: { issuer: { secretName: "iss" } } }) as never,
      deps(),
    );
    expect(missing.statusMessage).to.contain(
      "spec.identity.issuer.secretName: Secret weft-system/iss does not exist",
    );
    const trust = await generateTrust();
    const ok = await validateMeshRequest(
      meshRequest({ identity: { issuer: { secretName: "iss" } } }) as never,
      deps({ secret: async () => ({ type: "kubernetes.io/tls", data: trust.issuerSecretData }) }),
    );
    expect(ok.allowed).to.equal(true);
  });
});
