import { expect } from "chai";
import { profileStatus, profileStatusChanged } from "./profiles";

describe("ServiceProfile status", () => {
  const sp = {
    metadata: { name: "web.shop.svc.cluster.local", generation: 2 },
    spec: { routes: [{ name: "a", condition: { method: "GET" } }] },
  };

  it("is Accepted with the observed generation", () => {
    const s = profileStatus(sp, new Date("2026-01-01T00:00:00Z"));
    expect(s.observedGeneration).to.equal(2);
    expect(s.conditions![0]).to.include({
      type: "Accepted",
      status: "True",
      observedGeneration: 2,
      message: "1 route(s); served to proxies by weft-destination",
    });
  });

  it("is not rewritten when nothing changed, and is when the generation moves", () => {
    const s = profileStatus(sp, new Date("2026-01-01T00:00:00Z"));
    const same = { ...sp, status: s };
    expect(
      profileStatusChanged(same, profileStatus(same, new Date("2026-01-02T00:00:00Z"))),
    ).to.equal(false);
    const edited = { ...same, metadata: { ...sp.metadata, generation: 3 } };
    expect(profileStatusChanged(edited, profileStatus(edited, new Date()))).to.equal(true);
  });
});
