import { expect } from "chai";
import { loadComponent, main, UnknownComponentError } from "./controller";

describe("weft-controller", () => {
  it("runs the named component with the remaining arguments", async () => {
    let got: string[] = [];
    await main(["destination", "--port", "8086"], async (name) => {
      expect(name).to.equal("destination");
      return { run: async (argv) => void (got = argv) };
    });
    expect(got).to.deep.equal(["--port", "8086"]);
  });

  it("refuses a missing or unknown component with a stable code", async () => {
    const err = await main([]).catch((e) => e);
    expect(err).to.be.instanceOf(UnknownComponentError);
    expect(err.code).to.equal("WEFT_ERR_UNKNOWN_COMPONENT");
    const bad = await loadComponent("../etc").catch((e) => e);
    expect(bad.code).to.equal("WEFT_ERR_UNKNOWN_COMPONENT");
    const missing = await loadComponent("no-such-component").catch((e) => e);
    expect(missing.message).to.contain('unknown component "no-such-component"');
  });
});
