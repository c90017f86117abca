import { expect } from "chai";
import { defaults, type InitOptions } from "./options";
import {
  appendArgs,
  cleanupCommands,
  emptyNatState,
  installCommands,
  multiportChunks,
  outputRules,
  redirectRules,
  type NatState,
} from "./rules";
import { parseNatSave } from "./save";

const opts = (o: Partial<InitOptions> = {}): InitOptions => ({ ...defaults(), ...o });
const render = (cmds: string[][]): string[] => cmds.map((c) => c.join(" "));

describe("proxy-init rules", () => {
  it("redirects inbound TCP to 4143 after skipping the admin and tap ports", () => {
    expect(render(redirectRules(opts(), 4).map(appendArgs))).to.deep.equal([
      "-A PROXY_INIT_REDIRECT -p tcp -m multiport --dports 4190,4191 -j RETURN -m comment --comment weft-init/ignore-inbound-ports",
      "-A PROXY_INIT_REDIRECT -p tcp -j REDIRECT --to-ports 4143 -m comment --comment weft-init/redirect-all-incoming-to-proxy-port",
    ]);
  });

  it("lets the proxy uid, loopback and ignored ports out, redirects the rest to 4140", () => {
    const rules = outputRules(
      opts({ proxyUid: 999, outboundPortsToIgnore: [{ from: 443, to: 443 }] }),
    );
    expect(render(rules.map(appendArgs))).to.deep.equal([
      "-A PROXY_INIT_OUTPUT -m owner --uid-owner 999 -j RETURN -m comment --comment weft-init/ignore-proxy-user-id",
      "-A PROXY_INIT_OUTPUT -o lo -j RETURN -m comment --comment weft-init/ignore-loopback",
      "-A PROXY_INIT_OUTPUT -p tcp -m multiport --dports 443 -j RETURN -m comment --comment weft-init/ignore-outbound-ports",
      "-A PROXY_INIT_OUTPUT -p tcp -j REDIRECT --to-ports 4140 -m comment --comment weft-init/redirect-all-outgoing-to-proxy-port",
    ]);
  });

  it("puts at most 15 ports in one multiport rule, a range counting two", () => {
    const singles = Array.from({ length: 20 }, (_, i) => ({ from: 100 + i, to: 100 + i }));
    const chunks = multiportChunks([{ from: 1, to: 9 }, ...singles, { from: 100, to: 100 }]);
    expect(chunks).to.have.length(2);
    expect(chunks[0].split(",")).to.have.length(14);
    expect(chunks[0].startsWith("1:9,100,101")).to.equal(true);
    expect(chunks[1]).to.equal("113,114,115,116,117,118,119");
  });

  it("skips subnets of the rule's family only, by source", () => {
    const o = opts({ subnetsToIgnore: ["10.1.0.0/16", "fd00::/8", "10.1.0.0/16"] });
    const v4 = redirectRules(o, 4).filter((r) => r.comment === "ignore-subnet");
    const v6 = redirectRules(o, 6).filter((r) => r.comment === "ignore-subnet");
    expect(v4.map((r) => r.args.join(" "))).to.deep.equal(["-s 10.1.0.0/16 -j RETURN"]);
    expect(v6.map((r) => r.args.join(" "))).to.deep.equal(["-s fd00::/8 -j RETURN"]);
  });

  it("creates missing chains and adds jumps on a fresh table", () => {
    const cmds = render(installCommands(opts(), 4, emptyNatState()));
    expect(cmds.slice(0, 2)).to.deep.equal([
      "-t nat -N PROXY_INIT_REDIRECT",
      "-t nat -N PROXY_INIT_OUTPUT",
    ]);
    expect(cmds.slice(-2)).to.deep.equal([
      "-t nat -A PREROUTING -j PROXY_INIT_REDIRECT -m comment --comment weft-init/install-proxy-init-prerouting",
      "-t nat -A OUTPUT -j PROXY_INIT_OUTPUT -m comment --comment weft-init/install-proxy-init-output",
    ]);
    expect(cmds.every((c) => c.includes("-N ") || c.includes("--comment weft-init/"))).to.equal(
      true,
    );
  });

  it("flushes existing chains and adds no second jump when installed already", () => {
    const state = parseNatSave(
      [
        "*nat",
        ":PREROUTING ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        ":PROXY_INIT_OUTPUT - [0:0]",
        ":PROXY_INIT_REDIRECT - [0:0]",
        '-A PREROUTING -m comment --comment "weft-init/install-proxy-init-prerouting" -j PROXY_INIT_REDIRECT',
        "-A OUTPUT -j PROXY_INIT_OUTPUT",
        "COMMIT",
      ].join("\n"),
    );
    const cmds = render(installCommands(opts(), 4, state));
    expect(cmds.slice(0, 2)).to.deep.equal([
      "-t nat -F PROXY_INIT_REDIRECT",
      "-t nat -F PROXY_INIT_OUTPUT",
    ]);
    expect(
      cmds.filter((c) => c.includes("-A PREROUTING") || c.includes("-A OUTPUT")),
    ).to.deep.equal([]);
  });

  it("cleans up every jump (even duplicates) before flushing and deleting the chains", () => {
    const state: NatState = {
      chains: new Set(["PREROUTING", "OUTPUT", "PROXY_INIT_REDIRECT", "PROXY_INIT_OUTPUT"]),
      rules: [
        ["-A", "PREROUTING", "-j", "PROXY_INIT_REDIRECT"],
        ["-A", "PREROUTING", "-j", "PROXY_INIT_REDIRECT", "-m", "comment", "--comment", "x"],
        ["-A", "OUTPUT", "-j", "PROXY_INIT_OUTPUT"],
        ["-A", "OUTPUT", "-j", "KUBE-SERVICES"],
      ],
    };
    expect(render(cleanupCommands(state))).to.deep.equal([
      "-t nat -D PREROUTING -j PROXY_INIT_REDIRECT",
      "-t nat -D PREROUTING -j PROXY_INIT_REDIRECT -m comment --comment x",
      "-t nat -D OUTPUT -j PROXY_INIT_OUTPUT",
      "-t nat -F PROXY_INIT_REDIRECT",
      "-t nat -F PROXY_INIT_OUTPUT",
      "-t nat -X PROXY_INIT_REDIRECT",
      "-t nat -X PROXY_INIT_OUTPUT",
    ]);
  });

  it("has nothing to clean on a table without our chains", () => {
    expect(cleanupCommands(emptyNatState())).to.deep.equal([]);
  });
});
