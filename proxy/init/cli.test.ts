import { expect } from "chai";
import type { RunResult } from "./apply";
import { runInit, type InitIo } from "./cli";

interface Captured {
  io: InitIo;
  out: string[];
  err: string[];
  calls: string[];
}

function capture(saves: string[] = [], failOn?: string): Captured {
  const out: string[] = [];
  const err: string[] = [];
  const calls: string[] = [];
  const run = async (bin: string, args: string[]): Promise<RunResult> => {
    const line = [bin, ...args].join(" ");
    calls.push(line);
    if (bin.endsWith("-save")) return { code: 0, stdout: saves.shift() ?? "", stderr: "" };
    if (failOn && line.includes(failOn))
      return { code: 4, stdout: "", stderr: "iptables: No chain/target/match by that name.\n" };
    return { code: 0, stdout: "", stderr: "" };
  };
  return {
    io: { env: {}, out: (l) => out.push(l), err: (l) => err.push(l), run },
    out,
    err,
    calls,
  };
}

describe("weft-proxy init", () => {
  it("--simulate prints the rules and touches nothing", async () => {
    const c = capture();
    expect(await runInit(["init", "--simulate"], c.io)).to.equal(0);
    expect(c.calls).to.deep.equal([]);
    expect(c.out[0]).to.equal("iptables -t nat -N PROXY_INIT_REDIRECT");
    expect(c.out).to.include(
      "iptables -t nat -A PROXY_INIT_OUTPUT -p tcp -j REDIRECT --to-ports 4140 -m comment --comment weft-init/redirect-all-outgoing-to-proxy-port",
    );
  });

  it("--simulate --ipv6 prints ip6tables rules too", async () => {
    const c = capture();
    await runInit(["--simulate", "--ipv6"], c.io);
    expect(c.out.filter((l) => l.startsWith("ip6tables -t nat -A PREROUTING"))).to.have.length(1);
  });

  it("--simulate --cleanup prints jump deletions before chain removal", async () => {
    const c = capture();
    await runInit(["--simulate", "--cleanup"], c.io);
    expect(c.out[0]).to.match(/^iptables -t nat -D PREROUTING -j PROXY_INIT_REDIRECT/);
    expect(c.out.at(-1)).to.equal("iptables -t nat -X PROXY_INIT_OUTPUT");
  });

  it("applies with iptables -w, reading state with iptables-save", async () => {
    const c = capture(["", "*nat\nCOMMIT\n"]);
    expect(await runInit(["--iptables-mode=legacy"], c.io)).to.equal(0);
    expect(c.calls[0]).to.equal("iptables-legacy-save -t nat");
    expect(c.calls[1]).to.equal("iptables-legacy -w 5 -t nat -N PROXY_INIT_REDIRECT");
    expect(c.calls.at(-1)).to.equal("iptables-legacy-save -t nat");
  });

  it("stops at the first failing command and names it (exit 1)", async () => {
    const c = capture([""], "-A OUTPUT");
    expect(await runInit([], c.io)).to.equal(1);
    expect(c.err.join("\n"))
      .to.contain("'iptables -t nat -A OUTPUT -j PROXY_INIT_OUTPUT")
      .and.contain("No chain");
  });

  it("bad usage exits 2 with the flag and its form", async () => {
    const c = capture();
    expect(await runInit(["--outgoing-proxy-port", "x"], c.io)).to.equal(2);
    expect(c.err[0]).to.contain("--outgoing-proxy-port='x' is invalid: expected a port 1-65535");
  });

  it("--help prints the flags", async () => {
    const c = capture();
    expect(await runInit(["--help"], c.io)).to.equal(0);
    expect(c.out[0]).to.contain("usage: weft-proxy init");
  });
});
