import { expect } from "chai";
import { H2_PREFACE, MAX_REQUEST_LINE, classify } from "./classify";

const b = (s: string): Buffer => Buffer.from(s, "latin1");

describe("protocol classification", () => {
  it("recognises HTTP/1 request lines", () => {
    expect(classify(b("GET / HTTP/1.1\r\n"))).to.equal("http1");
    expect(classify(b("POST /a?b=c HTTP/1.0\r\nHost: x\r\n"))).to.equal("http1");
    expect(classify(b("M-SEARCH * HTTP/1.1\r\n"))).to.equal("http1");
  });

  it("asks for more bytes while the input is a prefix of a request line", () => {
    for (const partial of [
      "G",
      "GET",
      "GET ",
      "GET /path",
      "GET /path ",
      "GET / HTTP/1",
      "GET / HTTP/1.1",
      "GET / HTTP/1.1\r",
    ]) {
      expect(classify(b(partial)), partial).to.equal("more");
    }
  });

  it("recognises the HTTP/2 preface, and waits for all of it", () => {
    expect(classify(H2_PREFACE)).to.equal("h2");
    expect(classify(Buffer.concat([H2_PREFACE, b("\x00\x00\x00\x04")]))).to.equal("h2");
    expect(classify(H2_PREFACE.subarray(0, 10))).to.equal("more");
    expect(classify(b("PRI * HTTP/2.0\r\n\r\nXX"))).to.equal("opaque");
  });

  it("recognises a TLS ClientHello", () => {
    expect(classify(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]))).to.equal("tls");
    expect(classify(Buffer.from([0x16]))).to.equal("more");
    expect(classify(Buffer.from([0x16, 0x04]))).to.equal("opaque");
  });

  it("treats everything else as opaque", () => {
    expect(classify(b("get / HTTP/1.1\r\n"))).to.equal("opaque");
    expect(classify(b("GET / HTTP/2.0\r\n"))).to.equal("opaque");
    expect(classify(b("GET / HTTP/1.1\n"))).to.equal("opaque");
    expect(classify(b("GET  / HTTP/1.1\r\n"))).to.equal("opaque");
    expect(classify(Buffer.from([0x00, 0x00, 0x00, 0x08, 0x04, 0xd2]))).to.equal("opaque");
    expect(classify(b("*3\r\n$3\r\nSET\r\n"))).to.equal("opaque");
    expect(classify(b("SSH-2.0-OpenSSH\r\n"))).to.equal("opaque");
  });

  it("gives up on a request line that never ends", () => {
    expect(classify(b("GET /" + "a".repeat(MAX_REQUEST_LINE)))).to.equal("opaque");
    expect(classify(b("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))).to.equal("opaque");
  });
});
