import { expect } from "chai";
import type { V1Pod } from "@kubernetes/client-node";
import { parseAddr } from "./main";
import { targetOf, TargetSet } from "./targets";

function pod(
  o: { uid?: string; ip?: string; phase?: string; sidecar?: boolean; proxy?: boolean } = {},
): V1Pod {
  const proxy = { name: "weft-proxy", ports: [{ name: "weft-admin", containerPort: 4191 }] };
  const withProxy = o.proxy ?? true;
  return {
    metadata: {
      uid: o.uid ?? "u1",
      name: "books-7d9",
      namespace: "demo",
      labels: {
        app: "books",
        "weft.io/proxy-deployment": "books",
        "weft.io/control-plane-ns": "weft-system",
      },
    },
    spec: {
      containers: [{ name: "app" }, ...(withProxy && o.sidecar === false ? [proxy] : [])],
      initContainers: withProxy && o.sidecar !== false ? [{ name: "weft-init" }, proxy] : [],
    },
    status: { phase: o.phase ?? "Running", podIP: o.ip ?? "10.201.0.7" },
  };
}

describe("prometheus targets", () => {
  it("scrapes a meshed pod's admin port with namespace, pod, owner and control-plane labels", () => {
    const want = {
      targets: ["10.201.0.7:4191"],
      labels: {
        namespace: "demo",
        pod: "books-7d9",
        deployment: "books",
        control_plane_ns: "weft-system",
      },
    };
    expect(targetOf(pod())).to.deep.equal(want);
    expect(targetOf(pod({ sidecar: false }))).to.deep.equal(want);
    expect(targetOf(pod({ ip: "fd00::7" }))?.targets).to.deep.equal(["[fd00::7]:4191"]);
  });

  it("skips pods without a proxy, not running, or without an IP yet", () => {
    expect(targetOf(pod({ proxy: false }))).to.equal(undefined);
    expect(targetOf(pod({ phase: "Pending" }))).to.equal(undefined);
    expect(targetOf(pod({ ip: "" }))).to.equal(undefined);
  });

  it("follows watch events: added, changed, deleted", () => {
    const set = new TargetSet();
    set.apply(pod({ uid: "a", ip: "10.201.0.9" }), "ADDED");
    set.apply(pod({ uid: "b", ip: "10.201.0.8" }), "ADDED");
    expect(set.groups().map((g) => g.targets[0])).to.deep.equal([
      "10.201.0.8:4191",
      "10.201.0.9:4191",
    ]);
    set.apply(pod({ uid: "a", phase: "Succeeded" }), "MODIFIED");
    set.apply(pod({ uid: "b" }), "DELETED");
    expect(set.groups()).to.deep.equal([]);
  });

  it("takes --addr host:port and names a bad flag", () => {
    expect(parseAddr([])).to.deep.equal({ host: "127.0.0.1", port: 9091 });
    expect(parseAddr(["--addr=[::1]:9000"])).to.deep.equal({ host: "::1", port: 9000 });
    expect(() => parseAddr(["--port", "1"])).to.throw(/unknown flag --port/);
    expect(() => parseAddr(["--addr", "nope"])).to.throw(/--addr nope is not host:port/);
  });
});
