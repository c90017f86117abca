import { expect } from "chai";
import { BodyFramer, FramingError, requestFraming, responseFraming } from "./body";
import { parseHead } from "./head";

/** Feeds `data` in pieces of `step` bytes; returns how many bytes were body. */
function feed(f: BodyFramer, data: string, step: number): number {
  const buf = Buffer.from(data, "latin1");
  let used = 0;
  for (let at = 0; at < buf.length && !f.done; at += step) {
    const piece = buf.subarray(at, Math.min(buf.length, at + step));
    used += f.consume(piece, 0);
  }
  return used;
}

describe("body framing decisions", () => {
  const res = (text: string) => parseHead(text, false);
  const req = (text: string) => parseHead(text, true);

  it("frames requests by chunked, then content-length, else no body", () => {
    expect(
      requestFraming(req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked")),
    ).to.equal("chunked");
    expect(requestFraming(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3"))).to.equal(
      "length",
    );
    expect(requestFraming(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0"))).to.equal("none");
    expect(requestFraming(req("GET / HTTP/1.1\r\nHost: a"))).to.equal("none");
  });

  it("frames responses per RFC 9112 §6.3", () => {
    expect(responseFraming("HEAD", res("HTTP/1.1 200 OK\r\nContent-Length: 10"))).to.equal("none");
    expect(responseFraming("GET", res("HTTP/1.1 204 No Content"))).to.equal("none");
    expect(responseFraming("GET", res("HTTP/1.1 304 Not Modified\r\nContent-Length: 10"))).to.equal(
      "none",
    );
    expect(responseFraming("GET", res("HTTP/1.1 101 Switching Protocols"))).to.equal("tunnel");
    expect(responseFraming("CONNECT", res("HTTP/1.1 200 OK"))).to.equal("tunnel");
    expect(
      responseFraming(
        "GET",
        res("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3"),
      ),
    ).to.equal("chunked");
    expect(responseFraming("GET", res("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip"))).to.equal(
      "close",
    );
    expect(responseFraming("GET", res("HTTP/1.1 200 OK\r\nContent-Length: 3"))).to.equal("length");
    expect(responseFraming("GET", res("HTTP/1.1 200 OK"))).to.equal("close");
  });
});

describe("BodyFramer", () => {
  it("counts a content-length body and stops at its end", () => {
    const f = new BodyFramer();
    f.reset("length", 5);
    expect(f.consume(Buffer.from("abcdefgh"), 1)).to.equal(5);
    expect(f.done).to.equal(true);
  });

  it("finds the end of a chunked body (extensions, trailers) at every split", () => {
    const body = "5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Sum: 1\r\nX-Other: 2\r\n\r\n";
    for (let step = 1; step <= body.length; step++) {
      const f = new BodyFramer();
      f.reset("chunked", -1);
      expect(feed(f, body + "NEXT", step), `step ${step}`).to.equal(body.length);
      expect(f.done).to.equal(true);
    }
  });

  it("handles upper-case hex sizes and an empty last chunk", () => {
    const f = new BodyFramer();
    f.reset("chunked", -1);
    const body = "1F\r\n" + "x".repeat(31) + "\r\n0\r\n\r\n";
    expect(feed(f, body, 7)).to.equal(body.length);
  });

  it("rejects malformed chunked bodies", () => {
    const bad = [
      "\r\n",
      "G\r\n",
      "5\nhello",
      "5\r\nhelloX\r\n",
      "5\r\nhello\r\r",
      "0\r\nX\n",
      "12345678901234\r\n",
      "5;a\nb\r\n",
    ];
    for (const b of bad) {
      const f = new BodyFramer();
      f.reset("chunked", -1);
      expect(() => f.consume(Buffer.from(b), 0), JSON.stringify(b)).to.throw(FramingError);
    }
  });

  it("takes everything for a body delimited by close, nothing when there is no body", () => {
    const f = new BodyFramer();
    f.reset("close", -1);
    expect(f.consume(Buffer.from("abc"), 0)).to.equal(3);
    expect(f.done).to.equal(false);
    f.reset("none", -1);
    expect(f.done).to.equal(true);
    expect(f.consume(Buffer.from("abc"), 0)).to.equal(0);
  });
});

describe("unrequested upgrades", () => {
  it("reads a 101 the client did not ask for as a body until close, not as a tunnel", () => {
    const res = parseHead("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c", false);
    expect(responseFraming("GET", res, false)).to.equal("close");
    expect(responseFraming("GET", res, true)).to.equal("tunnel");
  });
});
