import { expect } from "chai";
import { dropCpuLimits } from "./module";

function deployment(name: string, resources: object): Record<string, unknown> {
  return {
    kind: "Deployment",
    metadata: { name },
    spec: { template: { spec: { containers: [{ name, resources }] } } },
  };
}

describe("the Pepr module's manifest", () => {
  it("loses the CPU limit of every Deployment container, keeping requests and the memory limit", () => {
    const docs = [
      deployment("pepr-weft", {
        limits: { memory: "512Mi", cpu: "500m" },
        requests: { memory: "256Mi", cpu: "200m" },
      }),
      deployment("pepr-weft-watcher", { limits: { cpu: "500m" } }),
      { kind: "Service", metadata: { name: "pepr-weft" } },
    ];
    const { docs: out, dropped } = dropCpuLimits(docs);
    expect(dropped).to.equal(2);
    expect(out[0]).to.deep.equal(
      deployment("pepr-weft", {
        limits: { memory: "512Mi" },
        requests: { memory: "256Mi", cpu: "200m" },
      }),
    );
    expect(out[1]).to.deep.equal(deployment("pepr-weft-watcher", { limits: {} }));
    expect(out[2]).to.deep.equal({ kind: "Service", metadata: { name: "pepr-weft" } });
  });
});
