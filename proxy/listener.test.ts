import { expect } from "chai";
import type * as net from "node:net";
import { loadConfig } from "./config";
import type { Interception, OriginalDst } from "./interception";
import { formatAddr, targetOf } from "./listener";

const socket = (localAddress: string, localPort: number) =>
  ({ localAddress, localPort }) as net.Socket;
const intercepting = (dst: OriginalDst | undefined): Interception => ({
  originalDestination: () => dst,
  interceptionAvailable: () => ({ ok: true }),
});

describe("connection target", () => {
  const config = loadConfig({}).outbound;

  it("is the original destination of a redirected connection", () => {
    const dst: OriginalDst = { address: "10.96.0.10", port: 80, family: 4 };
    expect(targetOf(socket("127.0.0.1", 4140), config, intercepting(dst))).to.deep.equal(dst);
  });

  it("is unknown without interception, and for a connection made straight to the proxy's port", () => {
    expect(targetOf(socket("127.0.0.1", 4140), config, intercepting(undefined))).to.equal(
      undefined,
    );
    const self: OriginalDst = { address: "127.0.0.1", port: 4140, family: 4 };
    expect(targetOf(socket("127.0.0.1", 4140), config, intercepting(self))).to.equal(undefined);
  });

  it("is the fixed target when one is configured (tests without iptables)", () => {
    const fixed = loadConfig({ WEFT_PROXY_OUTBOUND_FIXED_TARGET: "[fd00::7]:8080" }).outbound;
    expect(targetOf(socket("127.0.0.1", 4140), fixed, intercepting(undefined))).to.deep.equal({
      address: "fd00::7",
      port: 8080,
      family: 6,
    });
  });

  it("formats the target_addr label", () => {
    expect(formatAddr({ address: "10.0.0.1", port: 80, family: 4 })).to.equal("10.0.0.1:80");
    expect(formatAddr({ address: "fd00::1", port: 80, family: 6 })).to.equal("[fd00::1]:80");
    expect(formatAddr(undefined)).to.equal("unknown");
  });
});
