import { expect } from "chai";
import type { KubernetesObject } from "@kubernetes/client-node";
import type { Mesh, MeshStatus } from "../../crds/types";
import { FINALIZER, reconcileMesh, type DeploymentView, type MeshIO } from "./reconciler";

class FakeIO implements MeshIO {
  mesh: Mesh | undefined;
  applied: KubernetesObject[] = [];
  statusWrites = 0;
  generated = 0;
  configMaps = new Map<string, Record<string, string>>();
  secrets = new Map<string, Record<string, string>>();
  deps: DeploymentView[] = [];
  deleted: string[] = [];
  failApply?: string;

  constructor(mesh: Mesh) {
    this.mesh = mesh;
  }
  async getMesh() {
    return this.mesh ? structuredClone(this.mesh) : undefined;
  }
  async addFinalizer() {
    this.mesh!.metadata!.finalizers = [...(this.mesh!.metadata!.finalizers ?? []), FINALIZER];
  }
  async removeFinalizer() {
    this.mesh!.metadata!.finalizers = this.mesh!.metadata!.finalizers!.filter(
      (f) => f !== FINALIZER,
    );
  }
  async readConfigMap(name: string) {
    return this.configMaps.get(name);
  }
  async readSecret(name: string) {
    return this.secrets.get(name);
  }
  async generateTrust() {
    this.generated++;
    return {
      trustAnchorsPem: `ROOT${this.generated}`,
      issuerSecretData: { "tls.crt": "I", "tls.key": "K", "ca.crt": "R" },
    };
  }
  async apply(
    obj: KubernetesObject & { data?: Record<string, string>; stringData?: Record<string, string> },
  ) {
    if (this.failApply && obj.metadata?.name === this.failApply)
      throw new Error(`forbidden: ${obj.metadata.name}`);
    this.applied.push(obj);
    if (obj.kind === "ConfigMap") this.configMaps.set(obj.metadata!.name!, obj.data!);
    if (obj.kind === "Secret") this.secrets.set(obj.metadata!.name!, obj.stringData!);
    if (obj.kind === "Deployment" && !this.deps.some((d) => d.name === obj.metadata!.name)) {
      this.deps.push({
        name: obj.metadata!.name!,
        generation: 1,
        observedGeneration: 1,
        replicas: 1,
        readyReplicas: 0,
        updatedReplicas: 1,
      });
    }
  }
  async deployments() {
    return this.deps;
  }
  async podCounts() {
    return { meshed: 2, total: 3 };
  }
  async mtlsShare() {
    return 1;
  }
  async patchStatus(_name: string, status: MeshStatus) {
    this.statusWrites++;
    this.mesh!.status = status;
  }
  async owned() {
    return this.applied;
  }
  async delete(obj: KubernetesObject) {
    this.deleted.push(`${obj.kind}/${obj.metadata!.name}`);
  }
}

const opts = {
  available: ["identity", "destination"],
  now: () => new Date("2026-01-01T00:00:00Z"),
};
const newMesh = (): Mesh => ({
  metadata: { name: "weft", generation: 1 },
  spec: { version: "0.1.0" },
});

describe("reconcileMesh", () => {
  it("adds its finalizer, applies the control plane, generates trust once, and reports progress", async () => {
    const io = new FakeIO(newMesh());
    const r = await reconcileMesh("weft", io, opts);
    expect(io.mesh!.metadata!.finalizers).to.include(FINALIZER);
    expect(io.applied.map((o) => `${o.kind}/${o.metadata!.name}`)).to.include.members([
      "ConfigMap/weft-identity-trust-roots",
      "Secret/weft-identity-issuer",
      "Deployment/weft-identity",
      "Service/weft-destination",
    ]);
    expect(r).to.deep.equal({ ready: false, statusWritten: true });
    await reconcileMesh("weft", io, opts);
    expect(io.generated).to.equal(1);
  });

  it("does not write an unchanged status (no self-triggered loop) and turns Ready when pods are", async () => {
    const io = new FakeIO(newMesh());
    await reconcileMesh("weft", io, opts);
    const second = await reconcileMesh("weft", io, opts);
    expect(second!.statusWritten).to.equal(false);
    io.deps.forEach((d) => (d.readyReplicas = 1));
    const third = await reconcileMesh("weft", io, opts);
    expect(third).to.deep.equal({ ready: true, statusWritten: true });
    expect(io.mesh!.status).to.deep.include({ meshed: "2/3", mtls: "100%", version: "0.1.0" });
  });

  it("records an apply failure as Degraded and rethrows it for the retry", async () => {
    const io = new FakeIO(newMesh());
    io.failApply = "weft-destination";
    let thrown: unknown;
    await reconcileMesh("weft", io, opts).catch((e) => (thrown = e));
    expect(String(thrown)).to.contain("forbidden");
    const degraded = io.mesh!.status!.conditions!.find((c) => c.type === "Degraded")!;
    expect(degraded).to.include({ status: "True", reason: "ReconcileFailed" });
  });

  it("on deletion removes what it created and then its finalizer", async () => {
    const io = new FakeIO(newMesh());
    await reconcileMesh("weft", io, opts);
    io.mesh!.metadata!.deletionTimestamp = "2026-01-01T00:00:00Z";
    const r = await reconcileMesh("weft", io, opts);
    expect(r!.deleted).to.equal(true);
    expect(io.deleted).to.include.members([
      "Deployment/weft-identity",
      "Secret/weft-identity-issuer",
    ]);
    expect(io.mesh!.metadata!.finalizers).to.not.include(FINALIZER);
  });

  it("does nothing for a Mesh that is gone", async () => {
    const io = new FakeIO(newMesh());
    io.mesh = undefined;
    expect(await reconcileMesh("weft", io, opts)).to.equal(undefined);
  });
});
