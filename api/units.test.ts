import { expect } from "chai";
import { parseGoDurationMs, parsePortRanges } from "./units";

describe("units", () => {
  it("parses Go durations, compound and fractional, into milliseconds", () => {
    expect(parseGoDurationMs("200ms")).to.equal(200);
    expect(parseGoDurationMs("1m30s")).to.equal(90_000);
    expect(parseGoDurationMs("1.5s")).to.equal(1500);
    expect(parseGoDurationMs("24h")).to.equal(86_400_000);
    expect(parseGoDurationMs("0")).to.equal(0);
  });

  it("refuses what Go would refuse", () => {
    for (const bad of ["", "10", "1 s", "s", "1d", "1m30", "-1s"]) {
      expect(parseGoDurationMs(bad), bad).to.equal(undefined);
    }
  });

  it("expands port lists and ranges", () => {
    expect(parsePortRanges("25, 3306-3308,")).to.deep.equal([25, 3306, 3307, 3308]);
    expect(parsePortRanges("")).to.deep.equal([]);
  });

  it("refuses ports out of range, reversed ranges and words", () => {
    for (const bad of ["0", "65536", "10-5", "http", "1-2-3", "25;80"]) {
      expect(parsePortRanges(bad), bad).to.equal(undefined);
    }
  });
});
