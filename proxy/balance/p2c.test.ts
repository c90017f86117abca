import { expect } from "chai";
import * as net from "node:net";
import { backoffDelay } from "./backoff";
import { FailFastError, QueueFullError } from "./errors";
import { PeakEwma } from "./ewma";
import { connectBalanced } from "./l4";
import { failfastWait, P2cBalancer, weightedLoad } from "./p2c";
import { WeightedSplit } from "./split";

/** A deterministic PRNG (mulberry32) so the simulations are repeatable. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Discrete-event simulation: a request arrives every `intervalMs` of simulated time, is balanced,
 * and completes after its endpoint's latency. Returns picks per endpoint per window.
 */
function simulate(
  latency: (key: string, t: number) => number,
  keys: string[],
  durationMs: number,
  intervalMs: number,
  windowMs: number,
  weights: Record<string, number> = {},
): Map<string, number>[] {
  let now = 0;
  const b = new P2cBalancer<string>("sim", {
    now: () => now,
    random: rng(42),
    weight: (k) => weights[k] ?? 10_000,
  });
  b.update(keys.map((k) => [k, k]));
  const completions: { at: number; end: () => void }[] = [];
  const windows: Map<string, number>[] = [];
  for (let t = 0; t < durationMs; t += intervalMs) {
    completions.sort((x, y) => x.at - y.at);
    while (completions.length > 0 && completions[0].at <= t) {
      const c = completions.shift()!;
      now = c.at;
      c.end();
    }
    now = t;
    const slot = b.pick()!;
    const inflight = b.begin(slot);
    completions.push({ at: t + latency(slot.key, t), end: inflight.end });
    const w = Math.floor(t / windowMs);
    windows[w] ??= new Map();
    windows[w].set(slot.key, (windows[w].get(slot.key) ?? 0) + 1);
  }
  return windows;
}

describe("peak-EWMA", () => {
  it("jumps to a slower observation, decays towards faster ones and towards zero when idle", () => {
    const e = new PeakEwma(0);
    expect(e.rtt(0)).to.equal(30);
    e.observe(200, 0);
    expect(e.rtt(0)).to.equal(200);
    e.observe(10, 1000);
    const after = e.rtt(1000);
    expect(after).to.be.lessThan(200 * Math.exp(-0.1));
    expect(after).to.be.greaterThan(10);
    expect(e.rtt(101_000)).to.be.lessThan(1);
    e.pending = 3;
    expect(e.load(1000)).to.be.closeTo(after * 4, 1e-9);
  });
});

describe("P2C balancer", () => {
  it("moves traffic away from a slow endpoint within a second", () => {
    const keys = ["a", "b", "c"];
    const windows = simulate((k, t) => (k === "b" && t >= 1000 ? 250 : 5), keys, 2000, 2, 500);
    const share = (w: Map<string, number>): number =>
      (w.get("b") ?? 0) / [...w.values()].reduce((x, y) => x + y, 0);
    expect(share(windows[1])).to.be.greaterThan(0.2);
    expect(share(windows[3])).to.be.lessThan(0.05);
  });

  it("spreads load evenly among equal endpoints", () => {
    const keys = Array.from({ length: 5 }, (_, i) => `e${i}`);
    const windows = simulate(() => 10, keys, 10_000, 1, 10_000);
    const counts = keys.map((k) => windows[0].get(k) ?? 0);
    const mean = counts.reduce((x, y) => x + y, 0) / counts.length;
    for (const c of counts) expect(Math.abs(c - mean) / mean).to.be.lessThan(0.1);
  });

  it("divides load by weight: three times the weight takes about three times the requests", () => {
    const windows = simulate(() => 10, ["heavy", "light"], 10_000, 1, 10_000, {
      heavy: 30_000,
      light: 10_000,
    });
    const heavy = windows[0].get("heavy") ?? 0;
    const light = windows[0].get("light") ?? 0;
    expect(heavy / (heavy + light)).to.be.within(0.68, 0.82);
    expect(weightedLoad(120, 30_000) * 3).to.be.closeTo(weightedLoad(120, 10_000), 1e-12);
    expect(weightedLoad(120, 0)).to.equal(120);
  });

  it("sends nothing to a weight-0 endpoint while others have capacity", () => {
    const windows = simulate(() => 10, ["on", "off"], 2000, 1, 2000, { on: 10_000, off: 0 });
    expect(windows[0].get("off") ?? 0).to.equal(0);
  });

  it("handles endpoints vanishing and appearing while requests are in flight", () => {
    let now = 0;
    const b = new P2cBalancer<string>("svc", { now: () => now, random: rng(7) });
    b.update([
      ["a", "a"],
      ["b", "b"],
    ]);
    const inflight = [b.begin(b.pick()!), b.begin(b.pick()!)];
    b.update([["c", "c"]]);
    expect(inflight.every((f) => f.slot.removed)).to.equal(true);
    now = 10;
    for (const f of inflight) f.end();
    for (let i = 0; i < 20; i++) expect(b.pick()?.key).to.equal("c");
    b.update([
      ["c", "c"],
      ["d", "d"],
    ]);
    const seen = new Set(Array.from({ length: 50 }, () => b.begin(b.pick()!).slot.key));
    expect([...seen].sort()).to.deep.equal(["c", "d"]);
  });

  it("keeps load estimates of endpoints that stay across updates", () => {
    let now = 0;
    const b = new P2cBalancer<string>("svc", { now: () => now });
    b.update([["a", "a"]]);
    const f = b.begin(b.pick()!);
    now = 500;
    f.end();
    b.update([
      ["a", "a2"],
      ["b", "b"],
    ]);
    const a = b.endpoints().find((s) => s.key === "a")!;
    expect(a.endpoint).to.equal("a2");
    expect(a.ewma.rtt(500)).to.equal(500);
  });

  it("fails fast when no endpoint is ready, and wakes waiters when one appears", async () => {
    const b = new P2cBalancer<string>("web.shop.svc.cluster.local:80", { failfastMs: 50 });
    const t0 = Date.now();
    const err = await b.acquire().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(FailFastError);
    expect((err as FailFastError).code).to.equal("WEFT_ERR_FAILFAST");
    expect((err as FailFastError).httpStatus).to.equal(503);
    expect(Date.now() - t0).to.be.within(40, 500);
    const b2 = new P2cBalancer<string>("x", { failfastMs: 1000 });
    const waiting = b2.acquire();
    setTimeout(() => b2.update([["a", "a"]]), 10);
    expect((await waiting).key).to.equal("a");
  });

  it("counts the failfast timeout from when the request arrived", async () => {
    expect(failfastWait(3000, 0, 1000)).to.equal(2000);
    expect(failfastWait(3000, 0, 5000)).to.equal(0);
    expect(failfastWait(3000, 100, 50)).to.equal(3000);
    const b = new P2cBalancer<string>("x", { failfastMs: 1000 });
    const t0 = performance.now();
    const err = await b.acquire(performance.now() - 900).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(FailFastError);
    expect(performance.now() - t0).to.be.lessThan(600);
  });

  it("refuses a request at once when its queue of waiting requests is full", async () => {
    const b = new P2cBalancer<string>("x", { failfastMs: 200, queueCapacity: 2 });
    const waiting = [b.acquire(), b.acquire()];
    const err = await b.acquire().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(QueueFullError);
    expect((err as QueueFullError).httpStatus).to.equal(503);
    b.update([["a", "a"]]);
    expect((await Promise.all(waiting)).map((s) => s.key)).to.deep.equal(["a", "a"]);
  });

  it("skips endpoints in connect backoff and retries them after it", async () => {
    const b = new P2cBalancer<string>("x", {
      failfastMs: 2000,
      backoff: { minMs: 30, maxMs: 1000, jitter: 0 },
    });
    b.update([
      ["a", "a"],
      ["b", "b"],
    ]);
    b.connectFailed(b.endpoints()[0]);
    for (let i = 0; i < 20; i++) expect(b.pick()?.key).to.equal("b");
    b.connectFailed(b.endpoints()[1]);
    expect(b.pick()).to.equal(undefined);
    const t0 = Date.now();
    const slot = await b.acquire();
    expect(slot.backoff.ready(performance.now())).to.equal(true);
    expect(Date.now() - t0).to.be.within(10, 500);
  });

  it("computes exponential backoff with jitter bounds", () => {
    const cfg = { minMs: 100, maxMs: 60_000, jitter: 0.5 };
    expect(backoffDelay(1, cfg, () => 0.5)).to.equal(100);
    expect(backoffDelay(3, cfg, () => 0.5)).to.equal(400);
    expect(backoffDelay(3, cfg, () => 0)).to.equal(300);
    expect(backoffDelay(30, cfg, () => 1)).to.equal(60_000);
  });
});

describe("weighted split", () => {
  it("splits by weight within a few percent", () => {
    const s = new WeightedSplit(
      [
        { value: "v1", weight: 9000 },
        { value: "v2", weight: 1000 },
        { value: "off", weight: 0 },
      ],
      rng(3),
    );
    const counts = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const v = s.pick()!;
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    expect((counts.get("v2") ?? 0) / 20_000).to.be.closeTo(0.1, 0.01);
    expect(counts.has("off")).to.equal(false);
    expect(new WeightedSplit([{ value: 1, weight: 0 }]).pick()).to.equal(undefined);
  });
});

describe("L4 balancing", () => {
  it("connects to a live endpoint after a refused one and counts open connections", async () => {
    const server = net.createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const live = (server.address() as net.AddressInfo).port;
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", r));
    const deadPort = (dead.address() as net.AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const b = new P2cBalancer<number>("tcp", { failfastMs: 2000 });
    b.update([
      ["dead", deadPort],
      ["live", live],
    ]);
    const connect = (port: number): Promise<net.Socket> =>
      new Promise((resolve, reject) => {
        const s = net.connect(port, "127.0.0.1");
        s.once("connect", () => resolve(s));
        s.once("error", reject);
      });
    for (let i = 0; i < 4; i++) {
      const c = await connectBalanced(b, connect);
      expect(c.slot.key).to.equal("live");
      c.socket.destroy();
    }
    server.close();
  });
});
