import { expect } from "chai";
import { TlsSessionCache, sessionKey } from "./sessions";

describe("TLS session cache", () => {
  const a = Buffer.from("a");
  const b = Buffer.from("b");

  it("keeps the last session per peer address and identity", () => {
    const c = new TlsSessionCache();
    c.set(sessionKey("10.0.0.1", "x.ns"), a, 2000);
    c.set(sessionKey("10.0.0.1", "x.ns"), b, 2000);
    expect(c.get(sessionKey("10.0.0.1", "x.ns"), 1000)).to.equal(b);
    expect(c.get(sessionKey("10.0.0.2", "x.ns"), 1000)).to.equal(undefined);
    expect(c.get(sessionKey("10.0.0.1", "y.ns"), 1000)).to.equal(undefined);
  });

  it("does not offer a session whose peer certificate has expired", () => {
    const c = new TlsSessionCache();
    c.set("k", a, 2000);
    expect(c.get("k", 2000)).to.equal(undefined);
    expect(c.size).to.equal(0);
  });

  it("forgets the oldest peer beyond its bound", () => {
    const c = new TlsSessionCache(2);
    c.set("1", a, 9e15);
    c.set("2", a, 9e15);
    c.set("1", b, 9e15);
    c.set("3", a, 9e15);
    expect([c.get("1", 0), c.get("2", 0), c.get("3", 0)]).to.deep.equal([b, undefined, a]);
  });
});
