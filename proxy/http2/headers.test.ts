import { expect } from "chai";
import { forwardHeaders, grpcStatusOf, headerValue, isGrpc, setHeader } from "./headers";

describe("HTTP/2 header forwarding", () => {
  it("drops connection-specific fields and keeps pseudo-headers", () => {
    const out = forwardHeaders([
      ":method", "GET",
      ":path", "/",
      "connection", "x",
      "keep-alive", "5",
      "upgrade", "h2c",
      "te", "gzip",
      "x-app", "1",
    ]); // prettier-ignore
    expect(out).to.deep.equal([":method", "GET", ":path", "/", "x-app", "1"]);
    expect(forwardHeaders(["te", "trailers"])).to.deep.equal(["te", "trailers"]);
  });

  it("returns the same list when every field may be forwarded", () => {
    const h = [":status", "200", "x-app", "1"];
    expect(forwardHeaders(h)).to.equal(h);
  });

  it("replaces every copy of a field, in place", () => {
    const h = () => ["a", "1", "l5d-client-id", "forged", "b", "2", "l5d-client-id", "again"];
    expect(headerValue(h(), "l5d-client-id")).to.equal("forged");
    const replaced = h();
    setHeader(replaced, "l5d-client-id", "me");
    expect(replaced).to.deep.equal(["a", "1", "b", "2", "l5d-client-id", "me"]);
    const removed = h();
    setHeader(removed, "l5d-client-id", undefined);
    expect(removed).to.deep.equal(["a", "1", "b", "2"]);
  });

  it("recognises gRPC and reads its status from trailers first, then headers", () => {
    expect(isGrpc(["content-type", "application/grpc+proto"])).to.equal(true);
    expect(isGrpc(["content-type", "application/json"])).to.equal(false);
    expect(grpcStatusOf(["grpc-status", "5"], ["grpc-status", "0"])).to.equal(5);
    expect(grpcStatusOf(undefined, ["grpc-status", "14"])).to.equal(14);
    expect(grpcStatusOf(undefined, [])).to.equal(-1);
  });
});
