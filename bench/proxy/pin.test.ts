import { expect } from "chai";
import { pinned, placement } from "./pin";

describe("bench CPU placement", () => {
  it("keeps the generators on the last CPU and the peers anywhere by default", () => {
    const p = placement({}, 4);
    expect([p.load, p.peers]).to.deep.equal(["3", undefined]);
  });

  it("splits generators and peers when asked, and pins nothing when off or on one CPU", () => {
    expect(placement({ BENCH_PIN: "split" }, 2)).to.include({ load: "1", peers: "0" });
    expect(placement({ BENCH_PIN: "split" }, 4)).to.include({ load: "3", peers: "0-2" });
    expect(placement({ BENCH_PIN: "off" }, 4)).to.include({ load: undefined, peers: undefined });
    expect(placement({}, 1)).to.include({ load: undefined, peers: undefined });
  });

  it("runs a command through taskset only when pinned", () => {
    expect(pinned(undefined, "wrk", ["-t1"])).to.deep.equal(["wrk", ["-t1"]]);
    const [cmd, args] = pinned("1", "wrk", ["-t1"]);
    expect(cmd).to.match(/taskset$/);
    expect(args).to.deep.equal(["-c", "1", "wrk", "-t1"]);
  });
});
