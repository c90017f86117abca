import { expect } from "chai";
import { looksLikeClientHello, parseClientHelloSni } from "./client-hello";
import { parsePortList, setClientIdHeader, inboundIdentityDecision } from "./inbound-policy";
import {
  decodeTransportHeader,
  encodeTransportHeader,
  TRANSPORT_PREAMBLE,
} from "./transport-header";
import { captureClientHello } from "./test-pki";

describe("transport header codec", () => {
  it("round-trips port, name and session protocol, leaving the payload", () => {
    const header = {
      port: 5432,
      name: "db.shop.svc.cluster.local:5432",
      sessionProtocol: { kind: { $case: "http2" as const, http2: {} } },
    };
    const wire = Buffer.concat([encodeTransportHeader(header), Buffer.from("payload")]);
    expect(wire.subarray(0, TRANSPORT_PREAMBLE.length).toString()).to.equal(
      "transport.l5d.io/v1\r\n\r\n",
    );
    const bodyLen = wire.readUInt32BE(TRANSPORT_PREAMBLE.length);
    const d = decodeTransportHeader(wire);
    expect(d.kind).to.equal("header");
    if (d.kind !== "header") return;
    expect(d.header).to.deep.equal(header);
    expect(d.consumed).to.equal(TRANSPORT_PREAMBLE.length + 4 + bodyLen);
    expect(wire.subarray(d.consumed).toString()).to.equal("payload");
  });

  it("encodes a port-only header byte-exactly (field 1, varint)", () => {
    const wire = encodeTransportHeader({ port: 80, name: "", sessionProtocol: undefined });
    expect(wire.subarray(TRANSPORT_PREAMBLE.length).toString("hex")).to.equal("00000002" + "0850");
  });

  it("says incomplete for every strict prefix, absent for other bytes, invalid for oversize", () => {
    const wire = encodeTransportHeader({ port: 8080, name: "x", sessionProtocol: undefined });
    for (let n = 1; n < wire.length; n++)
      expect(decodeTransportHeader(wire.subarray(0, n)).kind, `prefix ${n}`).to.equal("incomplete");
    expect(decodeTransportHeader(Buffer.from("GET / HTTP/1.1\r\n")).kind).to.equal("absent");
    const big = Buffer.concat([TRANSPORT_PREAMBLE, Buffer.from([0, 1, 0, 1])]);
    expect(decodeTransportHeader(big).kind).to.equal("invalid");
    const junk = Buffer.concat([TRANSPORT_PREAMBLE, Buffer.from([0, 0, 0, 2, 0xff, 0xff])]);
    expect(decodeTransportHeader(junk).kind).to.equal("invalid");
  });
});

describe("ClientHello SNI", () => {
  it("reads the SNI of a real ClientHello and nothing from other bytes", async () => {
    const hello = await captureClientHello(
      "web.shop.serviceaccount.identity.weft-system.cluster.local",
    );
    expect(looksLikeClientHello(hello)).to.equal(true);
    expect(parseClientHelloSni(hello)).to.equal(
      "web.shop.serviceaccount.identity.weft-system.cluster.local",
    );
    expect(parseClientHelloSni(hello.subarray(0, 40))).to.equal(undefined);
    expect(looksLikeClientHello(Buffer.from("GET / HTTP/1.1\r\n"))).to.equal(false);
    expect(parseClientHelloSni(Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))).to.equal(
      undefined,
    );
  });
});

describe("inbound identity policy", () => {
  it("parses the require-identity annotation's ports and ranges", () => {
    expect([...parsePortList("8080, 9000-9002")]).to.deep.equal([8080, 9000, 9001, 9002]);
    expect(() => parsePortList("80,x")).to.throw(RangeError, /x/);
    expect(() => parsePortList("9-1")).to.throw(RangeError);
    expect(() => parsePortList("70000")).to.throw(RangeError);
  });

  it("refuses unauthenticated connections only on listed ports", () => {
    const ports = new Set([7000]);
    expect(inboundIdentityDecision(7000, ports, undefined)).to.deep.equal({
      action: "refuse",
      reason: "unauthenticated",
    });
    expect(inboundIdentityDecision(7000, ports, "a.b")).to.deep.equal({
      action: "accept",
      clientIdentity: "a.b",
    });
    expect(inboundIdentityDecision(8080, ports, undefined)).to.deep.equal({
      action: "accept",
      clientIdentity: undefined,
    });
  });

  it("replaces a client-sent l5d-client-id with the verified one, or removes it", () => {
    expect(setClientIdHeader({ "L5D-Client-Id": "forged", a: "1" }, "real")).to.deep.equal({
      a: "1",
      "l5d-client-id": "real",
    });
    expect(setClientIdHeader({ "l5d-client-id": "forged" }, undefined)).to.deep.equal({});
  });
});
