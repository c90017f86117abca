import { expect } from "chai";
import { Generations } from "./generations";

describe("Generations", () => {
  it("reports first sight, a new generation and a deletion, not a status update", () => {
    const g = new Generations();
    expect(g.changed("weft", 1, false), "first sight").to.equal(true);
    expect(g.changed("weft", 1, false), "status update").to.equal(false);
    expect(g.changed("weft", 2, false), "spec change").to.equal(true);
    expect(g.changed("other", 2, false), "another object").to.equal(true);
    expect(g.changed("weft", 3, true), "deleted").to.equal(true);
    expect(g.changed("weft", 1, false), "created again").to.equal(true);
    expect(g.changed("never-seen", undefined, true), "deletion of one not seen").to.equal(true);
  });
});
