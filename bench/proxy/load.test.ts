import { expect } from "chai";
import { parseCrload } from "./load";

describe("crload's output", () => {
  const line =
    '{"rate":1000,"achieved":999.5,"p50":0.0912,"p99":1.25,"p999":3.5,"errors":2,' +
    '"rampP99":4.75,"sendLagP99":0.05,"requests":9000,"responses":8998,"non2xx":0,' +
    '"timeouts":2,"socketErrors":0,"connectErrors":0,"conns":7,"cpuMs":310.5}';

  it("is read as a Latency, milliseconds as printed, counters beyond it left out", () => {
    expect(parseCrload(`${line}\n`)).to.deep.equal({
      rate: 1000,
      achieved: 999.5,
      p50: 0.0912,
      p99: 1.25,
      p999: 3.5,
      errors: 2,
      rampP99: 4.75,
    });
  });

  it("reads null (a window without any answer) as NaN", () => {
    const none = parseCrload(
      '{"rate":50,"achieved":0,"p50":null,"p99":null,"p999":null,"errors":50,"rampP99":null}',
    );
    expect(none.errors).to.equal(50);
    expect([none.p50, none.p99, none.p999, none.rampP99].every(Number.isNaN)).to.equal(true);
  });

  it("takes the last line, so a warning before it does no harm", () => {
    expect(parseCrload(`crload: something\n${line}\n\n`).p99).to.equal(1.25);
  });

  it("throws, quoting what it got, on output that is not its summary", () => {
    expect(() => parseCrload("")).to.throw(/crload: not JSON/);
    expect(() => parseCrload("usage: crload --rate R")).to.throw(/not JSON: usage: crload/);
    expect(() => parseCrload('{"rate":1,"achieved":"many"}')).to.throw(/achieved is "many"/);
    expect(() => parseCrload('{"rate":1}')).to.throw(/achieved is undefined/);
    expect(() => parseCrload("[1,2]")).to.throw(/rate is undefined/);
  });
});
