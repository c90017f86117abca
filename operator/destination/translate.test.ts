import { expect } from "chai";
import type { Update } from "../../api/gen/destination";
import { addressKey, ipText, tcpAddress } from "./address";
import {
  diffUpdates,
  serviceEndpointSet,
  snapshotUpdates,
  type EndpointSet,
  type MeshContext,
} from "./endpoints";
import { podObject, serviceObject, sliceObject } from "./fixtures";
import { parsePortList, podFromObject, serviceFromObject, sliceFromObject } from "./model";
import { parseContextToken, parsePath } from "./path";

const ctx: MeshContext = {
  controllerNamespace: "weft-system",
  trustDomain: "cluster.local",
  clusterDomain: "cluster.local",
};

function set(...eps: { ip: string; pod?: string }[]): EndpointSet {
  const svc = serviceFromObject(
    serviceObject("shop", "web", [{ name: "http", port: 80, targetPort: 8080 }]),
  );
  const slice = sliceFromObject(
    sliceObject("shop", "web-a", "web", [{ name: "http", port: 8080 }], eps),
  );
  return serviceEndpointSet(
    { service: svc, slices: [slice], pod: () => undefined },
    80,
    undefined,
    ctx,
  );
}

function keys(u: Update): string[] {
  if (u.update?.$case === "add") return u.update.add.addrs.map((a) => addressKey(a.addr));
  if (u.update?.$case === "remove") return u.update.remove.addrs.map((a) => addressKey(a));
  return [];
}

describe("destination translation", () => {
  it("parses service, headless-hostname and ip paths", () => {
    expect(parsePath("web.shop.svc.cluster.local:80", "cluster.local")).to.deep.include({
      kind: "service",
      service: "web",
      namespace: "shop",
      port: 80,
      hostname: undefined,
      fqn: "web.shop.svc.cluster.local",
    });
    expect(parsePath("web-0.db.shop.svc.cluster.local:5432", "cluster.local")).to.deep.include({
      hostname: "web-0",
      service: "db",
    });
    expect(parsePath("10.1.2.3:8080", "cluster.local")).to.deep.equal({
      kind: "ip",
      ip: "10.1.2.3",
      port: 8080,
    });
    expect(parsePath("[fd00::1]:80", "cluster.local")).to.deep.equal({
      kind: "ip",
      ip: "fd00::1",
      port: 80,
    });
    expect(() => parsePath("web.shop:80", "cluster.local")).to.throw(/WEFT_ERR|invalid/);
    expect(() => parsePath("web.shop.svc.cluster.local", "cluster.local")).to.throw(/no port/);
  });

  it("reads context tokens and tolerates garbage", () => {
    expect(parseContextToken('{"ns":"shop","nodeName":"n1","pod":"p"}')).to.deep.equal({
      ns: "shop",
      nodeName: "n1",
      pod: "p",
    });
    expect(parseContextToken("nope").ns).to.equal("");
  });

  it("round-trips IPv4 and IPv6 addresses", () => {
    expect(ipText(tcpAddress("10.244.0.7", 80))).to.equal("10.244.0.7");
    expect(tcpAddress("10.0.0.1", 80).ip?.ip).to.deep.equal({ $case: "ipv4", ipv4: 0x0a000001 });
    expect(ipText(tcpAddress("fd00::1:2", 80))).to.equal("fd00:0:0:0:0:0:1:2");
    expect(addressKey(tcpAddress("fd00::1", 80))).to.equal("[fd00:0:0:0:0:0:0:1]:80");
  });

  it("parses opaque port lists with ranges", () => {
    expect(parsePortList("3306, 4000-4002,bad")).to.deep.equal([3306, 4000, 4001, 4002]);
    expect(parsePortList(undefined)).to.equal(undefined);
  });

  it("labels meshed pods with identity, owner and an h2 hint; opaque ports get opaque transport", () => {
    const pod = podFromObject(
      podObject("shop", "web-1", "10.0.0.1", {
        meshed: true,
        serviceAccount: "web",
        deployment: "web",
      }),
    );
    expect(pod.ownerKind).to.equal("deployment");
    expect(pod.ownerName).to.equal("web");
    const svc = serviceFromObject(
      serviceObject("shop", "web", [
        { name: "http", port: 80, targetPort: 8080 },
        { name: "db", port: 3306 },
      ]),
    );
    const slice = sliceFromObject(
      sliceObject(
        "shop",
        "web-a",
        "web",
        [
          { name: "http", port: 8080 },
          { name: "db", port: 3306 },
        ],
        [{ ip: "10.0.0.1", pod: "web-1" }],
      ),
    );
    const state = { service: svc, slices: [slice], pod: () => pod };
    const http = [...serviceEndpointSet(state, 80, undefined, ctx).addrs.values()][0];
    expect(http.weight).to.equal(10000);
    expect(http.addr?.port).to.equal(8080);
    expect(http.metricLabels).to.deep.include({
      pod: "web-1",
      deployment: "web",
      serviceaccount: "web",
    });
    expect(http.tlsIdentity?.strategy).to.deep.equal({
      $case: "dnsLikeIdentity",
      dnsLikeIdentity: { name: "web.shop.serviceaccount.identity.weft-system.cluster.local" },
    });
    expect(http.protocolHint?.protocol?.$case).to.equal("h2");
    const db = [...serviceEndpointSet(state, 3306, undefined, ctx).addrs.values()][0];
    expect(db.protocolHint?.protocol?.$case).to.equal("opaque");
    expect(db.protocolHint?.opaqueTransport?.inboundPort).to.equal(4143);
  });

  it("serves the TCP port when a UDP port shares its number", () => {
    const svc = serviceFromObject(
      serviceObject("kube-system", "kube-dns", [
        { name: "dns", port: 53, protocol: "UDP" } as { port: number },
        { name: "dns-tcp", port: 53 },
      ]),
    );
    expect(svc.ports.map((p) => p.name)).to.deep.equal(["dns-tcp"]);
  });

  it("gives unmeshed pods no identity and no hint", () => {
    const pod = podFromObject(podObject("shop", "web-1", "10.0.0.1"));
    const svc = serviceFromObject(serviceObject("shop", "web", [{ name: "http", port: 80 }]));
    const slice = sliceFromObject(
      sliceObject(
        "shop",
        "a",
        "web",
        [{ name: "http", port: 80 }],
        [{ ip: "10.0.0.1", pod: "web-1" }],
      ),
    );
    const wa = [
      ...serviceEndpointSet(
        { service: svc, slices: [slice], pod: () => pod },
        80,
        undefined,
        ctx,
      ).addrs.values(),
    ][0];
    expect(wa.tlsIdentity).to.equal(undefined);
    expect(wa.protocolHint).to.equal(undefined);
  });

  it("resolves named target ports from the pod when the slice does not carry them", () => {
    const pod = podFromObject(
      podObject("shop", "web-1", "10.0.0.1", { ports: [{ name: "web", containerPort: 9090 }] }),
    );
    const svc = serviceFromObject(
      serviceObject("shop", "web", [{ name: "http", port: 80, targetPort: "web" }]),
    );
    const slice = sliceFromObject(
      sliceObject("shop", "a", "web", [], [{ ip: "10.0.0.1", pod: "web-1" }]),
    );
    const wa = [
      ...serviceEndpointSet(
        { service: svc, slices: [slice], pod: () => pod },
        80,
        undefined,
        ctx,
      ).addrs.values(),
    ][0];
    expect(wa.addr?.port).to.equal(9090);
  });

  it("drops endpoints that are not ready or terminating, and filters by hostname", () => {
    const svc = serviceFromObject(
      serviceObject("shop", "db", [{ name: "pg", port: 5432 }], { clusterIP: "None" }),
    );
    expect(svc.headless).to.equal(true);
    const slice = sliceFromObject(
      sliceObject(
        "shop",
        "db-a",
        "db",
        [{ name: "pg", port: 5432 }],
        [
          { ip: "10.0.0.1", hostname: "db-0" },
          { ip: "10.0.0.2", hostname: "db-1", ready: false },
          { ip: "10.0.0.3", hostname: "db-2", terminating: true },
          { ip: "db.example.com", hostname: "db-3" },
        ],
      ),
    );
    const state = { service: svc, slices: [slice], pod: () => undefined };
    expect([...serviceEndpointSet(state, 5432, undefined, ctx).addrs.keys()]).to.deep.equal([
      "10.0.0.1:5432",
    ]);
    expect(serviceEndpointSet(state, 5432, "db-1", ctx).addrs.size).to.equal(0);
  });

  it("leaves out an endpoint whose pod was deleted, keeps one whose pod is not seen yet", () => {
    const svc = serviceFromObject(serviceObject("shop", "web", [{ name: "http", port: 80 }]));
    const slice = sliceFromObject(
      sliceObject(
        "shop",
        "web-a",
        "web",
        [{ name: "http", port: 8080 }],
        [
          { ip: "10.0.0.1", pod: "web-gone" },
          { ip: "10.0.0.2", pod: "web-new" },
          { ip: "10.0.0.3" },
        ],
      ),
    );
    const state = {
      service: svc,
      slices: [slice],
      pod: () => undefined,
      podGone: (_ns: string, name: string) => name === "web-gone",
    };
    expect([...serviceEndpointSet(state, 80, undefined, ctx).addrs.keys()]).to.deep.equal([
      "10.0.0.2:8080",
      "10.0.0.3:8080",
    ]);
  });

  it("an unknown service is no_endpoints{exists:false}; a known empty one exists:true", () => {
    expect(
      snapshotUpdates(
        serviceEndpointSet(
          { service: undefined, slices: [], pod: () => undefined },
          80,
          undefined,
          ctx,
        ),
      ),
    ).to.deep.equal([{ update: { $case: "noEndpoints", noEndpoints: { exists: false } } }]);
    expect(snapshotUpdates(set())).to.deep.equal([
      { update: { $case: "noEndpoints", noEndpoints: { exists: true } } },
    ]);
  });

  it("diffs into removals then additions; removing the last endpoint is no_endpoints{exists:true}", () => {
    const a = set({ ip: "10.0.0.1" }, { ip: "10.0.0.2" });
    const b = set({ ip: "10.0.0.2" }, { ip: "10.0.0.3" });
    const ups = diffUpdates(a, b);
    expect(ups.map((u) => u.update?.$case)).to.deep.equal(["remove", "add"]);
    expect(keys(ups[0])).to.deep.equal(["10.0.0.1:8080"]);
    expect(keys(ups[1])).to.deep.equal(["10.0.0.3:8080"]);
    expect(ups[1].update?.$case === "add" && ups[1].update.add.metricLabels).to.deep.equal({
      namespace: "shop",
      service: "web",
    });
    expect(diffUpdates(b, b)).to.deep.equal([]);
    expect(diffUpdates(b, set())).to.deep.equal([
      { update: { $case: "noEndpoints", noEndpoints: { exists: true } } },
    ]);
    expect(diffUpdates(set(), a).map(keys)).to.deep.equal([["10.0.0.1:8080", "10.0.0.2:8080"]]);
    const relabeled = { ...b, labels: { namespace: "shop", service: "web2" } };
    expect(diffUpdates(a, relabeled).map((u) => [u.update?.$case, keys(u)])).to.deep.equal([
      ["remove", ["10.0.0.1:8080"]],
      ["add", ["10.0.0.2:8080", "10.0.0.3:8080"]],
    ]);
  });
});
