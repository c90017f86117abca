import { expect } from "chai";
import { InitUsageError } from "./errors";
import { defaults, parseOptions, usage } from "./options";

describe("proxy-init options", () => {
  it("defaults to the ports and uid of REFERENCE.md", () => {
    const o = parseOptions([]);
    expect(o).to.deep.equal(defaults());
    expect([o.incomingProxyPort, o.outgoingProxyPort, o.proxyUid]).to.deep.equal([
      4143, 4140, 2102,
    ]);
  });

  it("reads `--flag value`, `--flag=value` and bare booleans", () => {
    const o = parseOptions([
      "--incoming-proxy-port",
      "5143",
      "--outgoing-proxy-port=5140",
      "--proxy-uid",
      "0",
      "--inbound-ports-to-ignore",
      "25, 8000-8010",
      "--subnets-to-ignore=10.0.0.0/8,fd00::1",
      "--ipv6",
      "--simulate",
      "--iptables-mode",
      "nft",
    ]);
    expect(o.incomingProxyPort).to.equal(5143);
    expect(o.outgoingProxyPort).to.equal(5140);
    expect(o.proxyUid).to.equal(0);
    expect(o.inboundPortsToIgnore).to.deep.equal([
      { from: 25, to: 25 },
      { from: 8000, to: 8010 },
    ]);
    expect(o.subnetsToIgnore).to.deep.equal(["10.0.0.0/8", "fd00::1/128"]);
    expect(o.ipv6 && o.simulate && !o.cleanup).to.equal(true);
    expect(o.iptablesMode).to.equal("nft");
  });

  it("falls back to WEFT_INIT_* variables and lets flags win", () => {
    const env = {
      WEFT_INIT_PROXY_UID: "1000",
      WEFT_INIT_OUTBOUND_PORTS_TO_IGNORE: "443",
      WEFT_INIT_IPV6: "true",
    };
    const o = parseOptions(["--proxy-uid", "2000"], env);
    expect(o.proxyUid).to.equal(2000);
    expect(o.outboundPortsToIgnore).to.deep.equal([{ from: 443, to: 443 }]);
    expect(o.ipv6).to.equal(true);
  });

  it("reports every bad flag at once, naming it and its valid form", () => {
    let caught: unknown;
    try {
      parseOptions(
        [
          "--proxy-uid",
          "abc",
          "--inbound-ports-to-ignore",
          "10-5",
          "--nope",
          "--subnets-to-ignore",
          "10.0.0.0/33",
        ],
        { WEFT_INIT_INCOMING_PROXY_PORT: "0" },
      );
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(InitUsageError);
    const e = caught as InitUsageError;
    expect(e.code).to.equal("WEFT_ERR_INIT_USAGE");
    expect(e.problems).to.have.length(5);
    expect(e.message).to.contain("--proxy-uid='abc' is invalid: expected a user id");
    expect(e.message).to.contain(
      "--inbound-ports-to-ignore='10-5' is invalid: expected comma-separated ports or ranges",
    );
    expect(e.message).to.contain("unknown argument '--nope'");
    expect(e.message).to.contain(
      "--subnets-to-ignore='10.0.0.0/33' is invalid: expected comma-separated CIDRs",
    );
    expect(e.message).to.contain(
      "WEFT_INIT_INCOMING_PROXY_PORT='0' is invalid: expected a port 1-65535",
    );
  });

  it("rejects a value-taking flag at the end with no value", () => {
    expect(() => parseOptions(["--proxy-uid"])).to.throw(
      InitUsageError,
      "--proxy-uid needs a value",
    );
  });

  it("documents every flag with its environment fallback", () => {
    expect(usage())
      .to.contain("--outbound-ports-to-ignore")
      .and.contain("WEFT_INIT_OUTBOUND_PORTS_TO_IGNORE");
  });
});
