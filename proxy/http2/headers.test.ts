import { expect } from "chai";
import { forwardHeaders, grpcStatusOf, isGrpc } from "./headers";

describe("HTTP/2 header forwarding", () => {
  it("drops connection-specific fields and keeps pseudo-headers", () => {
    const out = forwardHeaders({
      ":method": "GET",
      ":path": "/",
      connection: "x",
      "keep-alive": "5",
      upgrade: "h2c",
      te: "gzip",
      "x-app": "1",
    });
    expect(out).to.deep.equal({ ":method": "GET", ":path": "/", "x-app": "1" });
    expect(forwardHeaders({ te: "trailers" })).to.deep.equal({ te: "trailers" });
  });

  it("recognises gRPC and reads its status from trailers first, then headers", () => {
    expect(isGrpc({ "content-type": "application/grpc+proto" })).to.equal(true);
    expect(isGrpc({ "content-type": "application/json" })).to.equal(false);
    expect(grpcStatusOf({ "grpc-status": "5" }, { "grpc-status": "0" })).to.equal(5);
    expect(grpcStatusOf(undefined, { "grpc-status": "14" })).to.equal(14);
    expect(grpcStatusOf(undefined, {})).to.equal(-1);
  });
});
