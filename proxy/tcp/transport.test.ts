import { expect } from "chai";
import { PassThrough } from "node:stream";
import type { Socket } from "node:net";
import { ProxyError } from "../errors";
import { TRANSPORT_HEADER_ALPN, encodeTransportHeader } from "../tls/transport-header";
import { readTransportHeader, transportPlan, type HeaderResult } from "./transport";

function read(chunks: Buffer[], timeoutMs = 200): Promise<HeaderResult> {
  const s = new PassThrough();
  const p = new Promise<HeaderResult>((r) =>
    readTransportHeader(s as unknown as Socket, timeoutMs, r),
  );
  for (const c of chunks) s.write(c);
  return p;
}

describe("opaque transport", () => {
  it("plans the peer's inbound port with the header naming the endpoint port, only when meshed", () => {
    const ep = { address: "10.0.0.1", port: 5432, opaqueTransportPort: 4143 };
    expect(transportPlan(ep, undefined)).to.equal(undefined);
    expect(transportPlan({ address: "10.0.0.1", port: 5432 }, "db.ns")).to.equal(undefined);
    const plan = transportPlan(ep, "db.ns")!;
    expect(plan.port).to.equal(4143);
    expect(plan.alpn).to.deep.equal([TRANSPORT_HEADER_ALPN]);
    expect(plan.preamble).to.deep.equal(
      encodeTransportHeader({ port: 5432, name: "", sessionProtocol: undefined }),
    );
  });

  it("reads a header split across reads and keeps the payload after it", async () => {
    const h = encodeTransportHeader({ port: 6379, name: "", sessionProtocol: undefined });
    const r = await read([h.subarray(0, 5), Buffer.concat([h.subarray(5), Buffer.from("PING")])]);
    expect(r).to.deep.include({ port: 6379 });
    expect((r as { rest: Buffer }).rest.toString()).to.equal("PING");
  });

  it("refuses a stream without a header, or a header without a port, and times out", async () => {
    expect(await read([Buffer.from("GET / HTTP/1.1\r\n\r\n")])).to.be.instanceOf(ProxyError);
    const noPort = encodeTransportHeader({ port: 0, name: "", sessionProtocol: undefined });
    expect(String(await read([noPort]))).to.match(/bad port 0/);
    expect(String(await read([Buffer.from("transport")], 20))).to.match(/timed out/);
  });
});
