import { expect } from "chai";
import * as grpc from "@grpc/grpc-js";
import { DestinationClient, type DestinationProfile, type Update } from "../../api/gen/destination";
import { addressKey } from "./address";
import {
  event,
  podObject,
  profileObject,
  serviceObject,
  sliceObject,
  type FixtureEndpoint,
} from "./fixtures";
import { DEFAULT_OPTIONS, startDestination, type RunningDestination } from "./main";
import { FeedWatchSource } from "./watch";

const FQN = "web.shop.svc.cluster.local";

function endpoints(n: number, from = 1): FixtureEndpoint[] {
  return Array.from({ length: n }, (_, i) => ({
    ip: `10.1.${Math.floor((from + i) / 250)}.${(from + i) % 250}`,
    pod: `web-${from + i}`,
  }));
}

function client(port: number, own = false): DestinationClient {
  const opts = own ? { "grpc.use_local_subchannel_pool": 1 } : {};
  return new DestinationClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), opts);
}

/** Collects a stream's messages and the set of addresses they imply. */
class Collector<T> {
  readonly messages: T[] = [];
  error: grpc.ServiceError | undefined;
  private waiters: (() => void)[] = [];
  constructor(readonly stream: grpc.ClientReadableStream<T>) {
    stream.on("data", (m: T) => {
      this.messages.push(m);
      for (const w of this.waiters.splice(0)) w();
    });
    stream.on("error", (e: grpc.ServiceError) => {
      this.error = e;
      for (const w of this.waiters.splice(0)) w();
    });
  }
  async until(pred: () => boolean, ms = 2000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error("timed out waiting for the stream");
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
}

function addresses(updates: Update[]): Set<string> {
  const out = new Set<string>();
  for (const u of updates) {
    const up = u.update;
    if (up?.$case === "add") up.add.addrs.forEach((a) => out.add(addressKey(a.addr)));
    if (up?.$case === "remove") up.remove.addrs.forEach((a) => out.delete(addressKey(a)));
    if (up?.$case === "noEndpoints") out.clear();
  }
  return out;
}

describe("destination server (loopback, in-memory watch feed)", function () {
  this.timeout(20000);
  let feed: FeedWatchSource;
  let dest: RunningDestination;
  const clients: DestinationClient[] = [];

  beforeEach(async () => {
    feed = new FeedWatchSource();
    feed.push(
      event(
        "Service",
        serviceObject("shop", "web", [{ name: "http", port: 80, targetPort: 8080 }], {
          clusterIP: "10.96.0.20",
        }),
      ),
    );
    for (const e of endpoints(3))
      feed.push(
        event(
          "Pod",
          podObject("shop", e.pod!, e.ip, {
            meshed: true,
            deployment: "web",
            serviceAccount: "web",
          }),
        ),
      );
    feed.push(
      event(
        "EndpointSlice",
        sliceObject("shop", "web-abc", "web", [{ name: "http", port: 8080 }], endpoints(3)),
      ),
    );
    dest = await startDestination(
      { ...DEFAULT_OPTIONS, addr: "127.0.0.1:0", queueCapacity: 8 },
      feed,
    );
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await dest.stop();
  });

  function open(path: string, own = false): Collector<Update> {
    const c = client(dest.port, own);
    clients.push(c);
    return new Collector(c.get({ scheme: "k8s", path, contextToken: "" }));
  }

  it("sends a snapshot first, then changes to every open stream", async () => {
    const a = open(`${FQN}:80`);
    const b = open(`${FQN}:80`);
    await a.until(() => addresses(a.messages).size === 3);
    await b.until(() => addresses(b.messages).size === 3);
    expect(a.messages[0].update?.$case).to.equal("add");
    const first = a.messages[0].update?.$case === "add" ? a.messages[0].update.add : undefined;
    expect(first?.metricLabels).to.deep.equal({ namespace: "shop", service: "web" });
    expect(first?.addrs[0].tlsIdentity?.strategy?.$case).to.equal("dnsLikeIdentity");
    feed.push(
      event(
        "EndpointSlice",
        sliceObject("shop", "web-abc", "web", [{ name: "http", port: 8080 }], endpoints(4, 2)),
        "MODIFIED",
      ),
    );
    for (const s of [a, b]) {
      await s.until(
        () => addresses(s.messages).size === 4 && !addresses(s.messages).has("10.1.0.1:8080"),
      );
    }
    feed.push(event("EndpointSlice", sliceObject("shop", "web-abc", "web", [], []), "DELETED"));
    await a.until(() => a.messages.at(-1)?.update?.$case === "noEndpoints");
    expect(a.messages.at(-1)).to.deep.equal({
      update: { $case: "noEndpoints", noEndpoints: { exists: true } },
    });
  });

  it("answers unknown services with no_endpoints{exists:false} and pod IPs with the pod", async () => {
    const none = open("nope.shop.svc.cluster.local:80");
    await none.until(() => none.messages.length === 1);
    expect(none.messages[0]).to.deep.equal({
      update: { $case: "noEndpoints", noEndpoints: { exists: false } },
    });
    const pod = open("10.1.0.2:8080");
    await pod.until(() => pod.messages.length === 1);
    const add = pod.messages[0].update?.$case === "add" ? pod.messages[0].update.add : undefined;
    expect(add?.addrs[0].metricLabels.pod).to.equal("web-2");
    const vip = open("10.96.0.20:80");
    await vip.until(() => addresses(vip.messages).size === 3);
  });

  it("follows a Service looked up by cluster IP that appears after the lookup", async () => {
    const vip = open("10.96.0.99:80");
    await vip.until(() => vip.messages.length === 1);
    feed.push(
      event(
        "Service",
        serviceObject("shop", "late", [{ name: "http", port: 80, targetPort: 8080 }], {
          clusterIP: "10.96.0.99",
        }),
      ),
    );
    feed.push(
      event(
        "EndpointSlice",
        sliceObject("shop", "late-a", "late", [{ name: "http", port: 8080 }], endpoints(2, 50)),
      ),
    );
    await vip.until(() => addresses(vip.messages).size === 2);
    feed.push(
      event(
        "EndpointSlice",
        sliceObject("shop", "late-a", "late", [{ name: "http", port: 8080 }], endpoints(1, 50)),
        "MODIFIED",
      ),
    );
    await vip.until(() => addresses(vip.messages).size === 1);
    feed.push(
      event("Service", serviceObject("shop", "late", [], { clusterIP: "10.96.0.99" }), "DELETED"),
    );
    await vip.until(
      () => addresses(vip.messages).size === 1 && vip.messages.at(-1)?.update?.$case === "add",
    );
  });

  it("rejects malformed paths with INVALID_ARGUMENT", async () => {
    const bad = open("web.shop:80");
    await bad.until(() => bad.error !== undefined);
    expect(bad.error?.code).to.equal(grpc.status.INVALID_ARGUMENT);
  });

  it("cuts a slow subscriber off while others keep receiving", async () => {
    const slow = open(`${FQN}:80`, true);
    const fast = open(`${FQN}:80`);
    await slow.until(() => slow.messages.length >= 1);
    slow.stream.pause();
    const big = 300;
    for (let round = 0; round < 80; round++) {
      const eps = endpoints(big, 1 + (round % 2) * big);
      feed.push(
        event(
          "EndpointSlice",
          sliceObject("shop", "web-abc", "web", [{ name: "http", port: 8080 }], eps),
          "MODIFIED",
        ),
      );
      await new Promise((r) => setImmediate(r));
    }
    const last = endpoints(big, 1 + (79 % 2) * big).map((e) => `${e.ip}:8080`);
    await fast.until(() => {
      const got = addresses(fast.messages);
      return got.size === big && last.every((k) => got.has(k));
    }, 10000);
    const overflows = await dest.metrics.streamOverflows.get();
    expect(overflows.values.find((v) => v.labels.rpc === "get")?.value).to.equal(1);
    slow.stream.resume();
    await slow.until(() => slow.error !== undefined, 10000);
    expect(slow.error?.code).to.equal(grpc.status.RESOURCE_EXHAUSTED);
    expect(fast.error).to.equal(undefined);
  });

  it("streams profiles, with edits and client-namespace precedence", async () => {
    const c = client(dest.port);
    clients.push(c);
    const req = (ns: string) => ({
      scheme: "k8s",
      path: `${FQN}:80`,
      contextToken: JSON.stringify({ ns, nodeName: "", pod: "" }),
    });
    const own = new Collector<DestinationProfile>(c.getProfile(req("shop")));
    const other = new Collector<DestinationProfile>(c.getProfile(req("client")));
    await own.until(() => own.messages.length === 1);
    expect(own.messages[0].routes).to.deep.equal([]);
    expect(own.messages[0].retryBudget?.retryRatio).to.be.closeTo(0.2, 1e-6);
    const spec = {
      routes: [
        { name: "books", condition: { pathRegex: "/books" }, isRetryable: true, timeout: "200ms" },
      ],
    };
    feed.push(event("ServiceProfile", profileObject("shop", FQN, spec)));
    await own.until(() => own.messages.length === 2);
    await other.until(() => other.messages.length === 2);
    expect(own.messages[1].routes[0].metricsLabels).to.deep.equal({ route: "books" });
    feed.push(
      event(
        "ServiceProfile",
        profileObject("client", FQN, {
          routes: [{ name: "client-side", condition: { method: "GET" } }],
        }),
      ),
    );
    await other.until(() => other.messages.length === 3);
    expect(other.messages[2].routes[0].metricsLabels.route).to.equal("client-side");
    await new Promise((r) => setTimeout(r, 100));
    expect(own.messages.length).to.equal(2);
    const pod = new Collector<DestinationProfile>(
      c.getProfile({ scheme: "k8s", path: "10.1.0.1:8080", contextToken: "" }),
    );
    await pod.until(() => pod.messages.length === 1);
    expect(pod.messages[0].endpoint?.metricLabels.pod).to.equal("web-1");
  });
});
