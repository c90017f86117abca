import { expect } from "chai";
import { testContext, testNamespace, testPod } from "./fixtures";
import { missedInjection } from "./missed";

describe("missedInjection", () => {
  const ctx = testContext();
  const ns = testNamespace("shop", { "weft.io/inject": "enabled" });
  const now = new Date("2026-01-01T00:10:00Z");
  const at = (iso: string) => {
    const p = testPod();
    p.metadata!.creationTimestamp = iso as unknown as Date;
    return p;
  };

  it("reports a recent pod that should carry the proxy but does not", () => {
    expect(missedInjection(at("2026-01-01T00:09:00Z"), ns, ctx, now)).to.equal(true);
  });

  it("ignores old pods, meshed pods and pods nobody asked to mesh", () => {
    expect(missedInjection(at("2026-01-01T00:00:00Z"), ns, ctx, now)).to.equal(false);
    const meshed = at("2026-01-01T00:09:00Z");
    meshed.spec!.initContainers = [{ name: "weft-proxy" }];
    expect(missedInjection(meshed, ns, ctx, now)).to.equal(false);
    expect(missedInjection(at("2026-01-01T00:09:00Z"), testNamespace("shop"), ctx, now)).to.equal(
      false,
    );
  });
});
