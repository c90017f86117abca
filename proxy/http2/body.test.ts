import { expect } from "chai";
import { RequestBody, UpstreamResponse } from "./body";
import { CANCEL, INTERNAL_ERROR, NO_ERROR } from "./frames";
import type { HeaderList } from "./hpack";
import type { H2Stream } from "./session";

/** What a stream was asked to do; the callbacks are the ones its owner installed. */
class RecordingStream {
  onHead: (h: HeaderList, end: boolean) => void = () => undefined;
  onData: (chunk: Buffer, end: boolean) => void = () => undefined;
  onTrailers: (t: HeaderList) => void = () => undefined;
  onClose: (code: number) => void = () => undefined;
  creditTo: RecordingStream | undefined;
  closed = false;
  remoteEnded = false;
  localDone = false;
  consumed = 0;
  resetCode: number | undefined;
  readonly sent: string[] = [];

  consume(n: number): void {
    this.consumed += n;
  }
  sendHeaders(h: HeaderList, end: boolean): void {
    this.sent.push(`headers ${h.join(",")}${end ? " end" : ""}`);
    if (end) this.localDone = true;
  }
  sendData(chunk: Buffer, end: boolean, credit = chunk.length): void {
    if (this.localDone) return;
    this.sent.push(`data ${chunk.toString()} credit=${credit}${end ? " end" : ""}`);
    if (end) this.localDone = true;
  }
  end(): void {
    this.sendData(Buffer.alloc(0), true, 0);
  }
  sendTrailers(t: HeaderList): void {
    this.sent.push(`trailers ${t.join(",")}`);
    this.localDone = true;
  }
  endRequestWithResponse(): void {
    this.sent.push("stop request");
  }
  reset(code: number): void {
    this.resetCode = code;
    this.closed = true;
  }
  get stream(): H2Stream {
    return this as unknown as H2Stream;
  }
}

describe("HTTP/2 request body", () => {
  it("keeps a small body, credits it as it arrives, and sends it again to a second attempt", () => {
    const source = new RecordingStream();
    const body = new RequestBody(source.stream, false, 100);
    const first = new RecordingStream();
    body.attach(first.stream);
    source.onData(Buffer.from("ab"), false);
    source.onData(Buffer.from("cd"), true);
    expect(source.consumed).to.equal(4);
    expect(body.complete).to.equal(true);
    expect(first.sent).to.deep.equal(["data ab credit=0", "data cd credit=0 end"]);
    body.detach();
    const second = new RecordingStream();
    body.attach(second.stream);
    expect(second.sent).to.deep.equal([
      "data ab credit=0",
      "data cd credit=0",
      "data  credit=0 end",
    ]);
    expect(second.creditTo).to.equal(source);
  });

  it("stops keeping past its limit: later bytes are credited only as the attempt sends them", () => {
    const source = new RecordingStream();
    const body = new RequestBody(source.stream, false, 3);
    const target = new RecordingStream();
    body.attach(target.stream);
    source.onData(Buffer.from("ab"), false);
    source.onData(Buffer.from("cd"), false);
    expect(body.intact).to.equal(false);
    expect(target.sent).to.deep.equal(["data ab credit=0", "data cd credit=2"]);
    source.onData(Buffer.from("e"), true);
    expect(body.complete).to.equal(false);
  });

  it("holds what arrives before the first attempt, even past the limit, and sends it then", () => {
    const source = new RecordingStream();
    const body = new RequestBody(source.stream, false, 0);
    source.onData(Buffer.from("early"), false);
    source.onTrailers(["x-sum", "1", "connection", "close"]);
    expect(source.consumed).to.equal(0);
    const target = new RecordingStream();
    body.attach(target.stream);
    expect(target.sent).to.deep.equal(["data early credit=5", "trailers x-sum,1"]);
  });

  it("sends nothing for a request that had no body", () => {
    const source = new RecordingStream();
    const body = new RequestBody(source.stream, true);
    const target = new RecordingStream();
    body.attach(target.stream);
    expect(body.empty).to.equal(true);
    expect(body.complete).to.equal(true);
    expect(target.sent).to.deep.equal([]);
  });
});

describe("HTTP/2 upstream response", () => {
  it("holds body and trailers until relayed, then sends head, body and trailers in order", () => {
    const up = new RecordingStream();
    const r = new UpstreamResponse(up.stream, [":status", "200"], false);
    let first = 0;
    r.onFirstFrame = () => first++;
    expect(r.framed).to.equal(false);
    up.onData(Buffer.from("hi"), false);
    up.onTrailers(["grpc-status", "0"]);
    expect(first).to.equal(1);
    expect(r.framed).to.equal(true);
    const down = new RecordingStream();
    r.relayTo(down.stream);
    expect(down.sent).to.deep.equal([
      "headers :status,200",
      "data hi credit=2",
      "trailers grpc-status,0",
    ]);
    expect(down.creditTo).to.equal(up);
  });

  it("passes an upstream reset on, and a downstream reset back", () => {
    const up = new RecordingStream();
    const r = new UpstreamResponse(up.stream, [":status", "200"], false);
    const down = new RecordingStream();
    r.relayTo(down.stream);
    up.onClose(INTERNAL_ERROR);
    expect(down.resetCode).to.equal(INTERNAL_ERROR);

    const up2 = new RecordingStream();
    const down2 = new RecordingStream();
    new UpstreamResponse(up2.stream, [":status", "200"], false).relayTo(down2.stream);
    down2.onClose(NO_ERROR);
    expect(up2.resetCode).to.equal(CANCEL);
  });

  it("ends the client's stream when the upstream closes with NO_ERROR before END_STREAM", () => {
    const up = new RecordingStream();
    const r = new UpstreamResponse(up.stream, [":status", "200"], false);
    const down = new RecordingStream();
    r.relayTo(down.stream);
    up.onData(Buffer.from("all"), false);
    up.onClose(NO_ERROR);
    expect(down.sent.slice(-2)).to.deep.equal(["data  credit=0 end", "stop request"]);
    expect(down.resetCode).to.equal(undefined);
  });

  it("resets the client's stream when a NO_ERROR close leaves the body short of its content-length", () => {
    const up = new RecordingStream();
    const r = new UpstreamResponse(up.stream, [":status", "200", "content-length", "10"], false);
    const down = new RecordingStream();
    r.relayTo(down.stream);
    up.onData(Buffer.from("half"), false);
    up.onClose(NO_ERROR);
    expect(down.resetCode).to.equal(INTERNAL_ERROR);
  });

  it("leaves the upstream alone when the client's stream closes after the whole response", () => {
    const up = new RecordingStream();
    const r = new UpstreamResponse(up.stream, [":status", "204"], true);
    up.remoteEnded = true;
    const down = new RecordingStream();
    r.relayTo(down.stream);
    down.onClose(NO_ERROR);
    expect(up.resetCode).to.equal(undefined);
    expect(down.sent).to.deep.equal(["headers :status,204 end"]);
  });
});
