import { expect } from "chai";
import { PassThrough } from "node:stream";
import { detectProtocol, type Detected } from "./detect";

function detect(stream: PassThrough, timeoutMs: number): Promise<Detected | undefined> {
  return new Promise((resolve) => detectProtocol(stream, timeoutMs, resolve));
}

describe("protocol detection on a stream", () => {
  it("decides once enough bytes arrived, keeping them for the handler", async () => {
    const s = new PassThrough();
    const result = detect(s, 1000);
    s.write("GET / HT");
    s.write("TP/1.1\r\nHost: a\r\n");
    const d = await result;
    expect(d?.protocol).to.equal("http1");
    expect(d?.timedOut).to.equal(false);
    expect(d?.initial.toString()).to.equal("GET / HTTP/1.1\r\nHost: a\r\n");
    expect(s.listenerCount("data")).to.equal(0);
  });

  it("falls back to opaque when the client says nothing before the timeout", async () => {
    const s = new PassThrough();
    const started = Date.now();
    const d = await detect(s, 50);
    expect(d?.protocol).to.equal("opaque");
    expect(d?.timedOut).to.equal(true);
    expect(Date.now() - started).to.be.at.least(45);
  });

  it("reports a client that left without a byte", async () => {
    const s = new PassThrough();
    const result = detect(s, 1000);
    s.end();
    expect(await result).to.equal(undefined);
  });
});
