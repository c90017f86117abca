import { expect } from "chai";
import { StreamTable } from "./streams";

describe("HTTP/2 stream table", () => {
  it("finds, deletes and counts streams by id", () => {
    const t = new StreamTable<{ id: number }>();
    for (let id = 1; id < 40; id += 2) t.set({ id });
    expect(t.size).to.equal(20);
    expect(t.get(7)?.id).to.equal(7);
    expect(t.get(8)).to.equal(undefined);
    expect(t.delete(7)).to.equal(true);
    expect(t.delete(7)).to.equal(false);
    expect(t.get(7)).to.equal(undefined);
    expect(t.size).to.equal(19);
  });

  it("keeps a long-lived stream without growing as short ones come and go", () => {
    const t = new StreamTable<{ id: number }>();
    const old = { id: 1 };
    t.set(old);
    // Ids 1, 129, 257, ... share a slot in a 64-slot ring.
    for (let id = 3; id <= 100_001; id += 2) {
      t.set({ id });
      expect(t.get(id)?.id).to.equal(id);
      t.delete(id);
    }
    expect(t.get(1)).to.equal(old);
    expect(t.size).to.equal(1);
    expect(t.values().map((s) => s.id)).to.deep.equal([1]);
    expect((t as unknown as { slots: unknown[] }).slots.length).to.equal(64);
  });

  it("grows when many streams are open at once", () => {
    const t = new StreamTable<{ id: number }>();
    for (let id = 1; id < 2000; id += 2) t.set({ id });
    expect(t.size).to.equal(1000);
    for (let id = 1; id < 2000; id += 2) expect(t.get(id)?.id).to.equal(id);
    expect(t.values()).to.have.length(1000);
  });

  it("does not mistake a stream for another id in its slot", () => {
    const t = new StreamTable<{ id: number }>();
    t.set({ id: 129 });
    expect(t.get(1)).to.equal(undefined);
    expect(t.delete(1)).to.equal(false);
  });
});
