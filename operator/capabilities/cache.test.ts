import { expect } from "chai";
import { cached } from "./cache";

function counter(values: (number | Error)[]): { load: () => Promise<number>; calls: () => number } {
  let i = 0;
  return {
    load: () => {
      const v = values[Math.min(i++, values.length - 1)];
      return v instanceof Error ? Promise.reject(v) : Promise.resolve(v);
    },
    calls: () => i,
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("cached", () => {
  it("loads once, then serves from memory while fresh", async () => {
    let t = 0;
    const c = counter([1, 2]);
    const get = cached(1000, c.load, () => t);
    expect(await Promise.all([get(), get()])).to.deep.equal([1, 1]);
    t = 999;
    expect(await get()).to.equal(1);
    expect(c.calls()).to.equal(1);
  });

  it("serves the expired value while one background load replaces it", async () => {
    let t = 0;
    let loads = 0;
    let release: (v: number) => void = () => undefined;
    const load = (): Promise<number> => {
      loads++;
      return loads === 1 ? Promise.resolve(1) : new Promise<number>((r) => (release = r));
    };
    const get = cached(1000, load, () => t);
    await get();
    t = 1500;
    expect(await get(), "stale value, no waiting").to.equal(1);
    expect(await get(), "still the stale one: a load is in flight").to.equal(1);
    expect(loads, "one background load, not one per call").to.equal(2);
    release(2);
    await tick();
    expect(await get()).to.equal(2);
  });

  it("keeps the old value when a background load fails, and rethrows a failed first load", async () => {
    let t = 0;
    const c = counter([1, new Error("api down"), 3]);
    const get = cached(1000, c.load, () => t);
    await get();
    t = 2000;
    expect(await get()).to.equal(1);
    await tick();
    expect(await get()).to.equal(1);
    const failing = cached(1000, counter([new Error("no cluster")]).load);
    let err: unknown;
    await failing().catch((e: unknown) => (err = e));
    expect(String(err)).to.include("no cluster");
  });

  it("waits for a new load every time while the ttl of the value is 0", async () => {
    const c = counter([0, 0, 7]);
    const get = cached((v: number) => (v === 0 ? 0 : 1000), c.load);
    expect(await get()).to.equal(0);
    expect(await get()).to.equal(0);
    expect(await get()).to.equal(7);
    expect(await get()).to.equal(7);
    expect(c.calls()).to.equal(3);
  });

  it("reloads in the background when invalidated, serving the old value meanwhile", async () => {
    let loads = 0;
    const releases: ((v: number) => void)[] = [];
    const load = (): Promise<number> => {
      loads++;
      return loads === 1 ? Promise.resolve(1) : new Promise<number>((r) => releases.push(r));
    };
    const get = cached(60_000, load, () => 0);
    get.invalidate();
    expect(loads, "nothing loaded yet: nothing to invalidate").to.equal(0);
    expect(await get()).to.equal(1);
    get.invalidate();
    expect(loads, "the reload starts at once").to.equal(2);
    expect(await get(), "well within the ttl, the old value until it lands").to.equal(1);
    get.invalidate();
    get.invalidate();
    expect(loads, "one load at a time").to.equal(2);
    releases[0](2);
    await tick();
    await tick();
    expect(await get()).to.equal(2);
    expect(
      loads,
      "invalidated during the load: once more, as it may have read old inputs",
    ).to.equal(3);
    releases[1](3);
    await tick();
    expect(await get()).to.equal(3);
    expect(loads).to.equal(3);
  });
});
