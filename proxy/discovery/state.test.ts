import { expect } from "chai";
import type { Update, WeightedAddr } from "../../api/gen/destination";
import { tcpAddress } from "../../operator/destination/address";
import { applyUpdate, PENDING, type EndpointState } from "./state";

function wa(ip: string, labels: Record<string, string> = {}): WeightedAddr {
  return {
    addr: tcpAddress(ip, 8080),
    weight: 10000,
    metricLabels: labels,
    tlsIdentity: {
      strategy: {
        $case: "dnsLikeIdentity",
        dnsLikeIdentity: { name: "web.shop.serviceaccount.identity.weft-system.cluster.local" },
      },
      serverName: undefined,
    },
    protocolHint: { protocol: { $case: "h2", h2: {} }, opaqueTransport: undefined },
    authorityOverride: undefined,
    http2: undefined,
    resourceRef: undefined,
  };
}
const add = (...ips: string[]): Update => ({
  update: {
    $case: "add",
    add: { addrs: ips.map((ip) => wa(ip, { pod: ip })), metricLabels: { service: "web" } },
  },
});
const remove = (...ips: string[]): Update => ({
  update: { $case: "remove", remove: { addrs: ips.map((ip) => tcpAddress(ip, 8080)) } },
});
const none = (exists: boolean): Update => ({
  update: { $case: "noEndpoints", noEndpoints: { exists } },
});

function keys(s: EndpointState): string[] {
  return s.kind === "endpoints" ? [...s.endpoints.keys()].sort() : [];
}

describe("discovery update semantics", () => {
  it("adds, removes, and turns an emptied set into no endpoints (exists)", () => {
    let s = applyUpdate(PENDING, add("10.0.0.1", "10.0.0.2"), true);
    expect(keys(s)).to.deep.equal(["10.0.0.1:8080", "10.0.0.2:8080"]);
    s = applyUpdate(s, remove("10.0.0.1"), false);
    expect(keys(s)).to.deep.equal(["10.0.0.2:8080"]);
    s = applyUpdate(s, remove("10.0.0.2"), false);
    expect(s).to.deep.equal({ kind: "none", exists: true });
    expect(applyUpdate(s, none(false), false)).to.deep.equal({ kind: "none", exists: false });
  });

  it("carries identity, hint and merged labels", () => {
    const s = applyUpdate(PENDING, add("10.0.0.1"), true);
    const ep = s.kind === "endpoints" ? s.endpoints.get("10.0.0.1:8080") : undefined;
    expect(ep?.identity).to.equal("web.shop.serviceaccount.identity.weft-system.cluster.local");
    expect(ep?.protocolHint).to.equal("h2");
    expect(ep?.labels).to.deep.equal({ service: "web", pod: "10.0.0.1" });
  });

  it("lets the first message of a reconnected stream replace the cache", () => {
    let s = applyUpdate(PENDING, add("10.0.0.1", "10.0.0.2"), true);
    s = applyUpdate(s, add("10.0.0.3"), true);
    expect(keys(s)).to.deep.equal(["10.0.0.3:8080"]);
    s = applyUpdate(s, none(true), true);
    expect(s.kind).to.equal("none");
  });

  it("tolerates duplicates and removals of unknown addresses", () => {
    let s = applyUpdate(PENDING, add("10.0.0.1"), true);
    s = applyUpdate(s, add("10.0.0.1"), false);
    s = applyUpdate(s, add("10.0.0.1", "10.0.0.2"), false);
    s = applyUpdate(s, remove("10.9.9.9"), false);
    expect(keys(s)).to.deep.equal(["10.0.0.1:8080", "10.0.0.2:8080"]);
    expect(applyUpdate(s, { update: undefined }, false)).to.equal(s);
  });
});
