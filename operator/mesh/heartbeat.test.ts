import { expect } from "chai";
import type { Mesh } from "../../crds/types";
import { desiredObjects } from "./desired";

describe("heartbeat", () => {
  const on: Mesh = {
    metadata: { name: "weft" },
    spec: {
      version: "0.1.0",
      components: { heartbeat: { enabled: true, url: "https://example.invalid/hb" } },
    },
  };
  const kinds = (mesh: Mesh, available: string[]) =>
    desiredObjects({ mesh, available })
      .filter((o) => o.metadata?.name === "weft-heartbeat")
      .map((o) => o.kind);

  it("is off by default and needs the component in this build", () => {
    expect(kinds({ metadata: { name: "weft" }, spec: {} }, ["heartbeat"])).to.deep.equal([]);
    expect(kinds(on, ["identity"])).to.deep.equal([]);
  });

  it("runs daily as a CronJob with read-only list access, posting only to the configured URL", () => {
    expect(kinds(on, ["heartbeat"])).to.deep.equal([
      "ServiceAccount",
      "ClusterRole",
      "ClusterRoleBinding",
      "CronJob",
    ]);
    const cron = desiredObjects({ mesh: on, available: ["heartbeat"] }).find(
      (o) => o.kind === "CronJob",
    ) as any;
    expect(cron.spec.schedule).to.match(/^\d+ \d+ \* \* \*$/);
    const c = cron.spec.jobTemplate.spec.template.spec.containers[0];
    expect(c.args).to.deep.equal(["/app/weft-controller.js", "heartbeat"]);
    expect(c.env).to.deep.include({
      name: "WEFT_HEARTBEAT_URL",
      value: "https://example.invalid/hb",
    });
    const role = desiredObjects({ mesh: on, available: ["heartbeat"] }).find(
      (o) => o.kind === "ClusterRole" && o.metadata?.name === "weft-heartbeat",
    ) as any;
    expect(role.rules[0].verbs).to.deep.equal(["list"]);
  });
});
