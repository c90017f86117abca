import { expect } from "chai";
import { PassThrough } from "node:stream";
import { discoveryPathFor } from "./logical";
import { ReplayBody } from "./replay";

function collect(s: PassThrough): Promise<string> {
  return new Promise((resolve) => {
    let out = "";
    s.on("data", (d: Buffer) => (out += String(d)));
    s.on("end", () => resolve(out));
  });
}

describe("replay body", () => {
  it("streams to the first attempt before the body ends, and replays it whole once ended", async () => {
    const src = new PassThrough();
    const body = new ReplayBody(src, false, 10);
    const first = new PassThrough();
    const got: string[] = [];
    first.on("data", (d: Buffer) => got.push(String(d)));
    body.attach(first);
    src.write("abc");
    await new Promise((r) => setImmediate(r));
    expect(got).to.deep.equal(["abc"]);
    expect(body.complete).to.equal(false);
    expect(body.intact).to.equal(true);
    src.end("de");
    await new Promise((r) => setImmediate(r));
    expect(body.complete).to.equal(true);
    body.detach();
    const second = new PassThrough();
    const replayed = collect(second);
    body.attach(second);
    expect(await replayed).to.equal("abcde");
  });

  it("is neither complete nor intact once over the limit, and keeps streaming", async () => {
    const src = new PassThrough();
    const body = new ReplayBody(src, false, 4);
    const out = new PassThrough();
    const all = collect(out);
    body.attach(out);
    src.write("abc");
    src.end("defg");
    expect(await all).to.equal("abcdefg");
    expect(body.complete).to.equal(false);
    expect(body.intact).to.equal(false);
  });

  it("lets go of what it kept once settled, and keeps streaming", async () => {
    const src = new PassThrough();
    const body = new ReplayBody(src, false);
    const out = new PassThrough();
    const all = collect(out);
    body.attach(out);
    src.write("abc");
    await new Promise((r) => setImmediate(r));
    body.settle();
    src.end("def");
    expect(await all).to.equal("abcdef");
    expect([body.complete, body.intact]).to.deep.equal([false, false]);
  });

  it("a request without a body is complete and empty from the start", () => {
    const body = new ReplayBody(new PassThrough(), true);
    expect([body.complete, body.empty]).to.deep.equal([true, true]);
  });
});

describe("discovery path of a request", () => {
  const dst = { address: "10.96.0.10", port: 80 };
  it("uses a cluster authority (default port from the original destination), else the address", () => {
    expect(discoveryPathFor("Web.Shop.svc.cluster.local", dst, "cluster.local")).to.equal(
      "web.shop.svc.cluster.local:80",
    );
    expect(discoveryPathFor("web.shop.svc.cluster.local.:8080", dst, "cluster.local")).to.equal(
      "web.shop.svc.cluster.local:8080",
    );
    expect(discoveryPathFor("example.com", dst, "cluster.local")).to.equal("10.96.0.10:80");
    expect(discoveryPathFor(undefined, { address: "fd00::1", port: 80 }, "cluster.local")).to.equal(
      "[fd00::1]:80",
    );
  });
});
