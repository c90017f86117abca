import { expect } from "chai";
import { HeadError, HeadReader, headFields, parseHead } from "./head";

const req = (text: string) => parseHead(text, true);
const res = (text: string) => parseHead(text, false);

describe("HTTP/1 head parser", () => {
  it("parses a request line and fields, keeping names and order as received", () => {
    const h = req(
      "POST /a/b?c=d HTTP/1.1\r\nHost: web.shop:80\r\nContent-Length: 12\r\nX-Multi: 1\r\nx-multi:  2 \r\nContent-Type: text/plain",
    );
    expect([h.method, h.target, h.versionMinor]).to.deep.equal(["POST", "/a/b?c=d", 1]);
    expect(h.host).to.equal("web.shop:80");
    expect(h.contentLength).to.equal(12);
    expect(headFields(h)).to.deep.equal([
      "Host",
      "web.shop:80",
      "Content-Length",
      "12",
      "X-Multi",
      "1",
      "x-multi",
      "2",
      "Content-Type",
      "text/plain",
    ]);
    expect(h.hopByHop).to.equal(false);
    expect(h.contentType).to.equal("text/plain");
  });

  it("parses status lines, with or without a reason phrase", () => {
    expect(res("HTTP/1.1 200 OK").status).to.equal(200);
    expect(res("HTTP/1.1 204").status).to.equal(204);
    expect(res("HTTP/1.0 503 Service Unavailable Now").versionMinor).to.equal(0);
  });

  it("reads framing: chunked as the final coding, identical duplicate lengths", () => {
    expect(req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked").chunked).to.equal(
      true,
    );
    expect(res("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip").chunked).to.equal(false);
    expect(
      req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5").contentLength,
    ).to.equal(5);
  });

  it("reads Connection tokens, Upgrade and Expect", () => {
    const h = req(
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, X-Secret, close\r\nUpgrade: websocket\r\nExpect: 100-continue",
    );
    expect(h.connectionUpgrade).to.equal(true);
    expect(h.connectionClose).to.equal(true);
    expect(h.connectionListed).to.deep.equal(["x-secret"]);
    expect(h.upgrade).to.equal("websocket");
    expect(h.expectContinue).to.equal(true);
    expect(h.hopByHop).to.equal(true);
    const ka = req("GET / HTTP/1.0\r\nConnection: keep-alive");
    expect(ka.connectionKeepAlive).to.equal(true);
    expect(ka.hopByHop).to.equal(false);
  });

  it("marks heads that carry hop-by-hop fields", () => {
    for (const field of [
      "Keep-Alive: timeout=5",
      "Proxy-Connection: keep-alive",
      "TE: gzip",
      "Upgrade: h2c",
    ]) {
      expect(req(`GET / HTTP/1.1\r\nHost: a\r\n${field}`).hopByHop, field).to.equal(true);
    }
    expect(req("GET / HTTP/1.1\r\nHost: a\r\nTE: trailers").hopByHop).to.equal(false);
  });

  it("rejects malformed and ambiguous input", () => {
    const bad = [
      "GET /\r\nHost: a",
      "GET / HTTP/1.1 extra\r\nHost: a",
      "GET / HTTP/2.0\r\nHost: a",
      "GET / HTTP/1.1\r\nHost : a",
      "GET / HTTP/1.1\r\nHost: a\r\n folded",
      "GET / HTTP/1.1\r\nHost: a\r\nNoColon",
      "GET / HTTP/1.1\r\nHost: a\nX: b",
      "GET / HTTP/1.1\r\nHost: a\rX: b",
      "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b",
      "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2",
      "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1",
      "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1,1",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip",
      "GET / HTTP/1.1\r\nHost: a\r\nHost: b",
      "GET / HTTP/1.1",
      "GET /a b HTTP/1.1\r\nHost: a",
      " / HTTP/1.1\r\nHost: a",
      "GET  HTTP/1.1\r\nHost: a",
      "GET / HTTP/1.1x\r\nHost: a",
      "GET / HTTP/1.\r\nHost: a",
      "G(T / HTTP/1.1\r\nHost: a",
      "GET / HTTP/1.1\r\n: empty",
      "GET\x01 / HTTP/1.1\r\nHost: a",
    ];
    for (const text of bad) expect(() => req(text), JSON.stringify(text)).to.throw(HeadError);
    expect(() => res("HTTP/1.1 2000 OK")).to.throw(HeadError);
    expect(() => res("HTTP/1.1 099 Low")).to.throw(HeadError);
    expect(() => res("ICY 200 OK")).to.throw(HeadError);
  });
});

describe("HeadReader", () => {
  it("finds the end of a head split across any chunk boundary", () => {
    const text = "GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY";
    for (let cut = 1; cut < text.length; cut++) {
      const r = new HeadReader(1024);
      expect(r.push(Buffer.from(text.slice(0, cut)))).to.equal(cut >= 27 ? 27 : -1);
      const end = cut >= 27 ? 27 : r.push(Buffer.from(text.slice(cut)));
      expect(end, `cut at ${cut}`).to.equal(27);
      expect(r.text(end)).to.equal("GET / HTTP/1.1\r\nHost: a");
      expect(r.take(end).toString()).to.equal(cut >= 27 ? text.slice(27, cut) : "BODY");
      expect(r.buffer.length).to.equal(0);
    }
  });

  it("refuses a head larger than its limit", () => {
    const r = new HeadReader(64);
    expect(r.push(Buffer.from("GET / HTTP/1.1\r\n"))).to.equal(-1);
    expect(() => r.push(Buffer.from("X: " + "a".repeat(100)))).to.throw(
      HeadError,
      "head too large",
    );
  });
});
