import { expect } from "chai";
import type { V1Pod } from "@kubernetes/client-node";
import { podCounts } from "./pods";

function pod(
  ns: string,
  meshed: boolean,
  opts: { ready?: boolean; identity?: string; phase?: string; hostNetwork?: boolean } = {},
): V1Pod {
  return {
    metadata: {
      namespace: ns,
      annotations: opts.identity ? { "weft.io/identity-mode": opts.identity } : {},
    },
    spec: {
      hostNetwork: opts.hostNetwork,
      containers: [{ name: "app" }],
      initContainers: meshed ? [{ name: "weft-proxy" }] : [],
    },
    status: {
      phase: opts.phase ?? "Running",
      initContainerStatuses: meshed
        ? [{ name: "weft-proxy", ready: opts.ready ?? true } as never]
        : [],
    },
  };
}

describe("pod counts", () => {
  it("counts running, injectable pods outside excluded namespaces", () => {
    const pods = [
      pod("shop", true),
      pod("shop", false),
      pod("shop", false, { phase: "Pending" }),
      pod("kube-system", false),
      pod("weft-system", false),
      pod("pepr-system", false),
      pod("legacy", false),
      pod("shop", false, { hostNetwork: true }),
    ];
    expect(podCounts(pods, ["legacy"])).to.deep.equal({ meshed: 1, total: 2 });
  });
});
