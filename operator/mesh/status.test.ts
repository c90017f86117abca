import { expect } from "chai";
import type { Mesh } from "../../crds/types";
import { computeStatus, statusEqual, type ObservedComponent } from "./status";

const mesh: Mesh = { metadata: { name: "weft", generation: 4 }, spec: { version: "0.1.0" } };
const ready = (name: string): ObservedComponent => ({
  name,
  desired: 1,
  ready: 1,
  updated: 1,
  observed: true,
  exists: true,
});
const t0 = new Date("2026-01-01T00:00:00Z");
const t1 = new Date("2026-01-01T00:01:00Z");

function cond(s: ReturnType<typeof computeStatus>, type: string) {
  return s.conditions!.find((c) => c.type === type)!;
}

describe("computeStatus", () => {
  it("is Ready when every component is ready, with the observed generation and columns", () => {
    const s = computeStatus({
      mesh,
      components: [ready("identity"), ready("destination")],
      meshedPods: 3,
      totalPods: 4,
      mtlsShare: 0.987,
      now: t0,
    });
    expect(cond(s, "Ready")).to.include({
      status: "True",
      reason: "ControlPlaneReady",
      observedGeneration: 4,
    });
    expect(cond(s, "Progressing")).to.include({ status: "False", reason: "Reconciled" });
    expect(cond(s, "Degraded")).to.include({ status: "False" });
    expect(s).to.deep.include({
      observedGeneration: 4,
      version: "0.1.0",
      meshed: "3/4",
      meshedPods: 3,
      mtls: "98%",
    });
    expect(s.components).to.deep.equal([
      { name: "identity", ready: true, readyReplicas: 1, replicas: 1 },
      { name: "destination", ready: true, readyReplicas: 1, replicas: 1 },
    ]);
  });

  it("is Progressing, not Ready, while a component rolls out, and says which", () => {
    const rolling = { ...ready("destination"), updated: 0, ready: 1 };
    const s = computeStatus({
      mesh,
      components: [ready("identity"), rolling],
      meshedPods: 0,
      totalPods: 0,
      now: t0,
    });
    expect(cond(s, "Ready")).to.include({
      status: "False",
      reason: "ComponentsNotReady",
      message: "waiting for weft-destination 1/1",
    });
    expect(cond(s, "Progressing")).to.include({ status: "True", reason: "RollingOut" });
    expect(s.mtls).to.equal("-");
  });

  it("is Degraded with the error after a failed reconcile", () => {
    const s = computeStatus({
      mesh,
      components: [ready("identity")],
      meshedPods: 0,
      totalPods: 0,
      error: "apply Deployment weft-identity: forbidden",
      now: t0,
    });
    expect(cond(s, "Degraded")).to.include({
      status: "True",
      reason: "ReconcileFailed",
      message: "apply Deployment weft-identity: forbidden",
    });
    expect(cond(s, "Ready").status).to.equal("False");
  });

  it("keeps lastTransitionTime while a condition holds, and reports no change to write", () => {
    const first = computeStatus({
      mesh,
      components: [ready("identity")],
      meshedPods: 1,
      totalPods: 1,
      now: t0,
    });
    const again = computeStatus({
      mesh: { ...mesh, status: first },
      components: [ready("identity")],
      meshedPods: 1,
      totalPods: 1,
      now: t1,
    });
    expect(cond(again, "Ready").lastTransitionTime).to.equal(t0.toISOString());
    expect(statusEqual(first, again)).to.equal(true);
    const more = computeStatus({
      mesh: { ...mesh, status: first },
      components: [ready("identity")],
      meshedPods: 2,
      totalPods: 2,
      now: t1,
    });
    expect(statusEqual(first, more)).to.equal(false);
  });

  it("is not Ready with no components at all", () => {
    expect(
      cond(computeStatus({ mesh, components: [], meshedPods: 0, totalPods: 0, now: t0 }), "Ready")
        .status,
    ).to.equal("False");
  });
});
