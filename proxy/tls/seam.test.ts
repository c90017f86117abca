import { expect } from "chai";
import * as net from "node:net";
import { inboundTlsLabels, noTls, outboundTlsLabels } from "./seam";

describe("TLS seam", () => {
  it("originates nothing and terminates nothing by default", () => {
    const seam = noTls(true);
    expect(
      seam.outbound.peerIdentity({
        address: "10.0.0.1",
        port: 80,
        identity: "web.shop.serviceaccount.identity.weft-system.cluster.local",
      }),
    ).to.equal(undefined);
    expect(seam.inbound).to.equal(undefined);
    expect(() => seam.outbound.originate(new net.Socket(), "x", [], "10.0.0.1")).to.throw(
      /not available/,
    );
  });

  it("labels plaintext as disabled when identity is off, no_identity otherwise", () => {
    expect(noTls(true).plaintextLabels).to.deep.equal({ tls: "disabled" });
    expect(noTls(false).plaintextLabels.tls).to.equal("no_identity");
  });

  it("labels TLS connections with the peer's identity", () => {
    const seam = noTls(false);
    expect(
      outboundTlsLabels(seam, "b.ns.serviceaccount.identity.weft-system.cluster.local"),
    ).to.deep.equal({
      tls: "true",
      server_id: "b.ns.serviceaccount.identity.weft-system.cluster.local",
    });
    expect(
      inboundTlsLabels(seam, "a.ns.serviceaccount.identity.weft-system.cluster.local", true)
        .client_id,
    ).to.match(/^a\.ns/);
    expect(inboundTlsLabels(seam, undefined, false)).to.equal(seam.plaintextLabels);
  });
});
