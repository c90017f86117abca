import { expect } from "chai";
import { ProxyError, errnoOf, http1ErrorResponse, upstreamError } from "./errors";

describe("proxy errors", () => {
  it("maps socket errors to the status, header text and gRPC status the client gets", () => {
    const cases: [string, number, number, string][] = [
      ["ECONNREFUSED", 502, 14, "connection refused"],
      ["ETIMEDOUT", 504, 14, "connect timed out"],
      ["ECONNRESET", 502, 14, "connection reset by upstream"],
      ["ENOTFOUND", 503, 14, "no route to the destination"],
      ["EWHATEVER", 502, 14, "connection reset by upstream"],
    ];
    for (const [errno, status, grpc, reason] of cases) {
      const e = upstreamError(Object.assign(new Error("x"), { code: errno }));
      expect([e.status, e.grpcStatus, e.reason], errno).to.deep.equal([status, grpc, reason]);
    }
    expect(upstreamError(new Error("no code")).code).to.equal("WEFT_ERR_UPSTREAM_RESET");
  });

  it("keeps a ProxyError as it is and gives each a stable code", () => {
    const e = new ProxyError("WEFT_ERR_RESPONSE_TIMEOUT");
    expect(upstreamError(e)).to.equal(e);
    expect(e.status).to.equal(504);
    expect(e.grpcStatus).to.equal(4);
    expect(e.code).to.match(/^WEFT_ERR_/);
  });

  it("writes a complete HTTP/1.1 error response with l5d-proxy-error", () => {
    const text = http1ErrorResponse(
      new ProxyError("WEFT_ERR_CONNECT_REFUSED", "ECONNREFUSED"),
      true,
    ).toString();
    const [head, body] = text.split("\r\n\r\n");
    expect(head).to.match(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
    expect(head).to.include("l5d-proxy-error: connection refused: ECONNREFUSED");
    expect(head).to.include("connection: close");
    expect(head).to.include(`content-length: ${Buffer.byteLength(body)}`);
  });

  it("never lets control characters into the header", () => {
    const text = http1ErrorResponse(
      new ProxyError("WEFT_ERR_BAD_REQUEST", "evil\r\nset-cookie: x"),
      false,
    ).toString();
    expect(text).to.not.include("\r\nset-cookie");
    expect(errnoOf({ code: "EPIPE" })).to.equal("EPIPE");
    expect(errnoOf(undefined)).to.equal(undefined);
  });
});
