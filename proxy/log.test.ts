import { expect } from "chai";
import { Logger } from "./log";

describe("logger", () => {
  it("writes only at or above its level and can change level at run time", () => {
    const lines: string[] = [];
    const log = new Logger("warn", "plain", (l) => lines.push(l));
    log.info("hidden");
    log.warn("shown", { port: 4143 });
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/WARN +shown port=4143$/);
    expect(log.debugOn).to.equal(false);
    expect(log.setLevelText("debug")).to.equal(true);
    expect(log.debugOn).to.equal(true);
    expect(log.setLevelText("chatty")).to.equal(false);
    expect(log.level).to.equal("debug");
  });

  it("writes JSON lines when asked", () => {
    const lines: string[] = [];
    new Logger("info", "json", (l) => lines.push(l)).info("started", { inbound: "0.0.0.0:4143" });
    expect(JSON.parse(lines[0])).to.include({
      level: "info",
      msg: "started",
      inbound: "0.0.0.0:4143",
    });
  });

  it("says nothing when off", () => {
    const lines: string[] = [];
    const log = new Logger("off", "plain", (l) => lines.push(l));
    log.error("x");
    log.warn("y");
    expect(lines).to.deep.equal([]);
  });
});
