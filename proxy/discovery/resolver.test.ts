import { expect } from "chai";
import { event, podObject, serviceObject, sliceObject } from "../../operator/destination/fixtures";
import {
  DEFAULT_OPTIONS,
  startDestination,
  type RunningDestination,
} from "../../operator/destination/main";
import { FeedWatchSource } from "../../operator/destination/watch";
import { Discovery } from "./client";
import { discoveryPath, DiscoveryResolver } from "./resolver";

describe("discovery behind the routing seam", function () {
  this.timeout(10000);
  let dest: RunningDestination;
  let discovery: Discovery;
  let resolver: DiscoveryResolver;

  before(async () => {
    const feed = new FeedWatchSource();
    feed.push(
      event(
        "Service",
        serviceObject("shop", "web", [{ name: "http", port: 80, targetPort: 8080 }], {
          clusterIP: "10.96.0.30",
        }),
      ),
    );
    feed.push(
      event(
        "Service",
        serviceObject("shop", "empty", [{ name: "http", port: 80 }], { clusterIP: "10.96.0.31" }),
      ),
    );
    ["10.0.0.1", "10.0.0.2"].forEach((ip, i) =>
      feed.push(
        event("Pod", podObject("shop", `web-${i}`, ip, { meshed: true, serviceAccount: "web" })),
      ),
    );
    feed.push(
      event(
        "EndpointSlice",
        sliceObject(
          "shop",
          "web-a",
          "web",
          [{ name: "http", port: 8080 }],
          [
            { ip: "10.0.0.1", pod: "web-0" },
            { ip: "10.0.0.2", pod: "web-1" },
          ],
        ),
      ),
    );
    dest = await startDestination({ ...DEFAULT_OPTIONS, addr: "127.0.0.1:0" }, feed);
    discovery = new Discovery({ address: `127.0.0.1:${dest.port}`, contextToken: "" });
    resolver = new DiscoveryResolver({ discovery, waitMs: 2000 });
  });

  after(async () => {
    resolver.close();
    discovery.close();
    await dest.stop();
  });

  it("falls back to the original destination at once after one lookup waited out an unreachable control plane", async () => {
    const down = new Discovery({ address: "127.0.0.1:1", contextToken: "" });
    const r = new DiscoveryResolver({ discovery: down, waitMs: 150 });
    const target = { direction: "outbound" as const, address: "10.96.0.30", port: 80 };
    let t0 = performance.now();
    expect((await r.resolve(target)).endpoints).to.deep.equal([
      { address: "10.96.0.30", port: 80 },
    ]);
    expect(performance.now() - t0).to.be.within(100, 1000);
    t0 = performance.now();
    await r.resolve(target);
    expect(performance.now() - t0).to.be.lessThan(50);
    r.close();
    down.close();
  });

  it("derives the path from a cluster authority, else the address", () => {
    const t = { direction: "outbound" as const, address: "10.96.0.30", port: 80 };
    expect(
      discoveryPath({ ...t, authority: "web.shop.svc.cluster.local" }, "cluster.local"),
    ).to.equal("web.shop.svc.cluster.local:80");
    expect(discoveryPath({ ...t, authority: "example.com" }, "cluster.local")).to.equal(
      "10.96.0.30:80",
    );
    expect(discoveryPath({ ...t, address: "fd00::1" }, "cluster.local")).to.equal("[fd00::1]:80");
  });

  it("resolves a cluster IP to its endpoints with identities, spreading picks", async () => {
    const firsts = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const set = await resolver.resolve({
        direction: "outbound",
        address: "10.96.0.30",
        port: 80,
      });
      expect(set.endpoints).to.have.length(2);
      expect(set.endpoints[0].identity).to.equal(
        "web.shop.serviceaccount.identity.weft-system.cluster.local",
      );
      expect(set.endpoints[0].protocolHint).to.equal("h2");
      firsts.add(`${set.endpoints[0].address}:${set.endpoints[0].port}`);
    }
    expect([...firsts].sort()).to.deep.equal(["10.0.0.1:8080", "10.0.0.2:8080"]);
  });

  it("gives an empty set for a service without endpoints, and the original destination otherwise", async () => {
    expect(
      (await resolver.resolve({ direction: "outbound", address: "10.96.0.31", port: 80 }))
        .endpoints,
    ).to.deep.equal([]);
    const unknown = await resolver.resolve({
      direction: "outbound",
      address: "192.0.2.1",
      port: 443,
    });
    expect(unknown.endpoints[0]).to.deep.include({ address: "192.0.2.1", port: 443 });
    const inbound = await resolver.resolve({
      direction: "inbound",
      address: "10.0.0.1",
      port: 8080,
    });
    expect(inbound.endpoints).to.deep.equal([{ address: "127.0.0.1", port: 8080 }]);
  });
});
