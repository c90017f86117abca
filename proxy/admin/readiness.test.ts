import { expect } from "chai";
import { Readiness } from "./readiness";

describe("readiness gates", () => {
  it("is ready with no gates, and only once every gate is", () => {
    const r = new Readiness();
    expect(r.isReady()).to.equal(true);
    const identity = r.register("identity");
    const other = r.register("discovery");
    expect(r.isReady()).to.equal(false);
    expect(r.waiting()).to.deep.equal(["discovery", "identity"]);
    identity.ready();
    identity.ready();
    expect(r.waiting()).to.deep.equal(["discovery"]);
    other.ready();
    expect(r.isReady()).to.equal(true);
  });

  it("refuses the same gate twice", () => {
    const r = new Readiness();
    r.register("identity");
    expect(() => r.register("identity")).to.throw(/already registered/);
  });
});
