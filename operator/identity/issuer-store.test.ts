import { expect } from "chai";
import { generateIssuer, generateRoot, generateTrust } from "./ca";
import { chooseAnchors, IssuerStore } from "./issuer-store";

describe("issuer store", () => {
  it("loads from Secret data + anchors bundle, then reloads on change without restart", async () => {
    const a = await generateTrust();
    const store = new IssuerStore();
    expect(store.current()).to.equal(undefined);
    const first = await store.reload({
      secretData: a.issuerSecretData,
      anchorsPem: a.trustAnchorsPem,
    });
    expect(first.kind).to.equal("loaded");
    expect(store.current()).to.not.equal(undefined);
    const same = await store.reload({
      secretData: a.issuerSecretData,
      anchorsPem: a.trustAnchorsPem,
    });
    expect(same).to.include({ kind: "loaded", changed: false });

    const b = await generateTrust();
    const bundle = a.trustAnchorsPem + b.trustAnchorsPem;
    const next = await store.reload({ secretData: b.issuerSecretData, anchorsPem: bundle });
    expect(next).to.include({ kind: "loaded", changed: true });
    expect(store.current()!.chainDer[0]).to.not.deep.equal(
      first.kind === "loaded" ? first.issuer.chainDer[0] : undefined,
    );
    expect(store.anchorsPem()).to.equal(bundle);
  });

  it("keeps the previous issuer when an update is invalid, and drops none it never had", async () => {
    const a = await generateTrust();
    const other = await generateTrust();
    const store = new IssuerStore();
    const bad = await store.reload({
      secretData: other.issuerSecretData,
      anchorsPem: a.trustAnchorsPem,
    });
    expect(bad).to.deep.include({ kind: "invalid", keptPrevious: false });
    expect(store.current()).to.equal(undefined);
    await store.reload({ secretData: a.issuerSecretData, anchorsPem: a.trustAnchorsPem });
    const loaded = store.current();
    const again = await store.reload({
      secretData: other.issuerSecretData,
      anchorsPem: a.trustAnchorsPem,
    });
    expect(again.kind).to.equal("invalid");
    if (again.kind === "invalid") {
      expect(again.keptPrevious).to.equal(true);
      expect(again.error.code).to.equal("WEFT_ERR_ISSUER_UNTRUSTED");
    }
    expect(store.current()).to.equal(loaded);
    const missing = await store.reload({ anchorsPem: a.trustAnchorsPem });
    expect(missing).to.deep.include({ kind: "invalid", keptPrevious: true });
    if (missing.kind === "invalid") expect(missing.error.code).to.equal("WEFT_ERR_ISSUER_MISSING");
  });

  it("falls back to the Secret's ca.crt when the anchors ConfigMap is empty", async () => {
    const root = await generateRoot();
    const issuer = await generateIssuer(root);
    const data = { "tls.crt": issuer.certPem, "tls.key": issuer.keyPem, "ca.crt": root.certPem };
    expect(chooseAnchors({ secretData: data, anchorsPem: "  " })).to.equal(root.certPem);
    const store = new IssuerStore();
    expect((await store.reload({ secretData: data })).kind).to.equal("loaded");
  });
});
