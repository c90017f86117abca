import { expect } from "chai";
import { loadConfig } from "../config";
import { identitySettings, IdentityConfigError, startProxyIdentity } from "./start";

describe("proxy identity start-up", () => {
  it("is plaintext with no gate when identity is disabled", async () => {
    const gates: string[] = [];
    const id = await startProxyIdentity(loadConfig({ WEFT_PROXY_IDENTITY_DISABLED: "true" }), {
      registerGate: (n) => (gates.push(n), { ready: () => undefined }),
    });
    expect(id.agent).to.equal(undefined);
    expect(id.seam.inbound).to.equal(undefined);
    expect(id.seam.plaintextLabels).to.deep.equal({ tls: "disabled" });
    expect(gates).to.deep.equal([]);
  });

  it("names every missing identity variable at once", () => {
    const config = loadConfig({ WEFT_PROXY_IDENTITY_LOCAL_NAME: "a.b" });
    const err = (() => {
      try {
        identitySettings(config);
      } catch (e) {
        return e;
      }
    })();
    expect(err).to.be.instanceOf(IdentityConfigError);
    expect((err as Error).message).to.contain(
      "WEFT_PROXY_IDENTITY_TOKEN_FILE, WEFT_PROXY_IDENTITY_TRUST_ANCHORS, WEFT_PROXY_IDENTITY_SVC_ADDR are not set",
    );
  });
});
