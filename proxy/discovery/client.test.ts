import { expect } from "chai";
import { EventEmitter } from "node:events";
import * as net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { DestinationClient } from "../../api/gen/destination";
import { event, podObject, serviceObject, sliceObject } from "../../operator/destination/fixtures";
import {
  DEFAULT_OPTIONS,
  startDestination,
  type RunningDestination,
} from "../../operator/destination/main";
import { FeedWatchSource } from "../../operator/destination/watch";
import { Discovery, type Resolution } from "./client";

/** A client whose channel never gets past CONNECTING: its calls wait until cancelled. */
function stuckClient(): { client: DestinationClient; closed: () => boolean } {
  let closed = false;
  const call = (): EventEmitter => {
    const c = new EventEmitter() as EventEmitter & { cancel(): void };
    c.cancel = () => c.emit("error", { code: grpc.status.CANCELLED, details: "cancelled" });
    return c;
  };
  const client = {
    getChannel: () => ({ getConnectivityState: () => grpc.connectivityState.CONNECTING }),
    get: call,
    getProfile: call,
    close: () => (closed = true),
  } as unknown as DestinationClient;
  return { client, closed: () => closed };
}

const PATH = "web.shop.svc.cluster.local:80";

function feedWith(ips: string[]): FeedWatchSource {
  const feed = new FeedWatchSource();
  feed.push(
    event("Service", serviceObject("shop", "web", [{ name: "http", port: 80, targetPort: 8080 }])),
  );
  ips.forEach((ip, i) =>
    feed.push(event("Pod", podObject("shop", `web-${i}`, ip, { meshed: true }))),
  );
  feed.push(
    event(
      "EndpointSlice",
      sliceObject(
        "shop",
        "web-a",
        "web",
        [{ name: "http", port: 8080 }],
        ips.map((ip, i) => ({ ip, pod: `web-${i}` })),
      ),
    ),
  );
  return feed;
}

async function until(pred: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

function keys(r: Resolution): string[] {
  return r.endpoints.kind === "endpoints" ? [...r.endpoints.endpoints.keys()].sort() : [];
}

describe("discovery client (loopback destination server)", function () {
  this.timeout(15000);
  let dest: RunningDestination | undefined;
  let discovery: Discovery | undefined;

  afterEach(async () => {
    discovery?.close();
    if (dest) await dest.stop();
    dest = undefined;
  });

  it("shares a resolution, follows changes, and drops it when idle", async () => {
    const feed = feedWith(["10.0.0.1", "10.0.0.2"]);
    dest = await startDestination({ ...DEFAULT_OPTIONS, addr: "127.0.0.1:0" }, feed);
    discovery = new Discovery({
      address: `127.0.0.1:${dest.port}`,
      contextToken: '{"ns":"shop"}',
      idleMs: 100,
    });
    const a = discovery.acquire(PATH);
    const b = discovery.acquire(PATH);
    expect(a.resolution).to.equal(b.resolution);
    expect(await a.resolution.waitForEndpoints(3000)).to.equal(true);
    expect(keys(a.resolution)).to.deep.equal(["10.0.0.1:8080", "10.0.0.2:8080"]);
    await until(() => a.resolution.profile !== undefined);
    expect(a.resolution.profile?.retryBudget?.minRetriesPerSecond).to.equal(10);
    feed.push(
      event(
        "EndpointSlice",
        sliceObject(
          "shop",
          "web-a",
          "web",
          [{ name: "http", port: 8080 }],
          [{ ip: "10.0.0.2", pod: "web-1" }],
        ),
        "MODIFIED",
      ),
    );
    await until(() => keys(a.resolution).length === 1);
    a.release();
    b.release();
    await new Promise((r) => setTimeout(r, 60));
    expect(discovery.size).to.equal(1);
    const again = discovery.acquire(PATH);
    await new Promise((r) => setTimeout(r, 150));
    expect(discovery.size).to.equal(1);
    again.release();
    await until(() => discovery!.size === 0, 1000);
  });

  it("keeps the last state while the server is down and takes a fresh snapshot on reconnect", async () => {
    dest = await startDestination(
      { ...DEFAULT_OPTIONS, addr: "127.0.0.1:0" },
      feedWith(["10.0.0.1", "10.0.0.2"]),
    );
    const port = dest.port;
    discovery = new Discovery({
      address: `127.0.0.1:${port}`,
      contextToken: "",
      backoff: { minMs: 50, maxMs: 200, jitter: 0.2 },
    });
    const h = discovery.acquire(PATH);
    await h.resolution.waitForEndpoints(3000);
    dest.server.forceShutdown();
    dest = undefined;
    await until(() => !h.resolution.connected);
    await new Promise((r) => setTimeout(r, 300));
    expect(keys(h.resolution)).to.deep.equal(["10.0.0.1:8080", "10.0.0.2:8080"]);
    dest = await startDestination(
      { ...DEFAULT_OPTIONS, addr: `127.0.0.1:${port}` },
      feedWith(["10.0.0.3"]),
    );
    await until(() => keys(h.resolution).join() === "10.0.0.3:8080", 8000);
    expect(h.resolution.connected).to.equal(true);
    h.release();
  });

  it("replaces a channel stuck connecting, and its streams reopen on the new one", async () => {
    dest = await startDestination(
      { ...DEFAULT_OPTIONS, addr: "127.0.0.1:0" },
      feedWith(["10.0.0.1"]),
    );
    const address = `127.0.0.1:${dest.port}`;
    const stuck = stuckClient();
    const made: DestinationClient[] = [];
    discovery = new Discovery({
      address,
      contextToken: "",
      connectTimeoutMs: 200,
      backoff: { minMs: 50, maxMs: 200, jitter: 0.2 },
      makeClient: () => {
        const c =
          made.length === 0
            ? stuck.client
            : new DestinationClient(address, grpc.credentials.createInsecure());
        made.push(c);
        return c;
      },
    });
    const h = discovery.acquire(PATH);
    expect(await h.resolution.waitForEndpoints(100)).to.equal(false);
    expect(await h.resolution.waitForEndpoints(3000)).to.equal(true);
    expect(keys(h.resolution)).to.deep.equal(["10.0.0.1:8080"]);
    expect(made).to.have.length(2);
    expect(stuck.closed()).to.equal(true);
    h.release();
  });
});

/**
 * A TCP relay to `port` that can go silent: the connections it carries then pass nothing, in
 * either direction, and are never closed (a peer that vanished without FIN or RST); connections
 * made afterwards are relayed normally.
 */
async function silentRelay(
  port: number,
): Promise<{ port: number; silence(): void; close(): void }> {
  let epoch = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((down) => {
    const mine = epoch;
    const up = net.connect(port, "127.0.0.1");
    for (const s of [down, up]) {
      sockets.add(s);
      s.on("error", () => undefined);
    }
    down.on("data", (d) => mine === epoch && up.write(d));
    up.on("data", (d) => mine === epoch && down.write(d));
    down.on("close", () => up.destroy());
    up.on("close", () => down.destroy());
  });
  const relayPort = await new Promise<number>((r) =>
    server.listen(0, "127.0.0.1", () => r((server.address() as net.AddressInfo).port)),
  );
  return {
    port: relayPort,
    silence: () => void epoch++,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe("discovery client: a destination connection that goes silent", function () {
  this.timeout(30_000);

  it("is closed by keepalive, and a new lookup then resolves on a new connection", async () => {
    const dest = await startDestination(
      { ...DEFAULT_OPTIONS, addr: "127.0.0.1:0" },
      feedWith(["10.0.0.1"]),
    );
    const relay = await silentRelay(dest.port);
    const discovery = new Discovery({
      address: `127.0.0.1:${relay.port}`,
      contextToken: "",
      channelOptions: { "grpc.keepalive_time_ms": 500, "grpc.keepalive_timeout_ms": 500 },
    });
    try {
      const known = discovery.acquire(PATH);
      expect(await known.resolution.waitForEndpoints(3000)).to.equal(true);
      relay.silence();
      // Another service, never looked up: its streams start on the silent connection.
      const fresh = discovery.acquire("other.shop.svc.cluster.local:80");
      expect(await fresh.resolution.waitForEndpoints(10_000)).to.equal(true);
      expect(fresh.resolution.endpoints.kind).to.equal("none");
      known.release();
      fresh.release();
    } finally {
      discovery.close();
      relay.close();
      await dest.stop();
    }
  });
});
