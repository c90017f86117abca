import { expect } from "chai";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { generateTrust, loadIssuer, type Issuer } from "../../operator/identity/ca";
import { certify } from "../../operator/identity/certify";
import type { CertifyRequest, CertifyResponse } from "../../api/gen/identity";
import { backoffDelayMs, IdentityAgent, refreshDelayMs, type Clock } from "./agent";

const ID = "web.shop.serviceaccount.identity.weft-system.cluster.local";

class FakeClock implements Clock {
  t = Date.now();
  pending: { ms: number; fn: () => void; cancelled: boolean }[] = [];
  delays: number[] = [];
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const entry = { ms, fn, cancelled: false };
    this.delays.push(ms);
    this.pending.push(entry);
    return entry;
  }
  clearTimeout(h: unknown): void {
    (h as { cancelled: boolean }).cancelled = true;
  }
  /** Advances to the next timer, runs it, and waits (bounded) until it has scheduled the next one. */
  async fire(): Promise<void> {
    const next = this.pending.shift();
    if (!next) throw new Error("no timer pending");
    this.t += next.ms;
    const before = this.delays.length;
    if (!next.cancelled) next.fn();
    for (let i = 0; i < 400 && this.delays.length === before; i++)
      await new Promise((r) => setTimeout(r, 5));
  }
}

describe("identity agent timing (pure)", () => {
  it("renews at 70 % of the remaining lifetime, clamped to 10 s and 24 h", () => {
    expect(refreshDelayMs(100_000, 0)).to.equal(70_000);
    expect(refreshDelayMs(30_000, 0)).to.equal(21_000);
    expect(refreshDelayMs(5_000, 0)).to.equal(10_000);
    expect(refreshDelayMs(10 * 24 * 3600_000, 0)).to.equal(24 * 3600_000);
    expect(refreshDelayMs(123_457, 0)).to.equal(86_419);
  });

  it("backs off exponentially from 100 ms to 60 s with jitter", () => {
    expect(backoffDelayMs(0, 0)).to.equal(50);
    expect(backoffDelayMs(0, 0.999)).to.be.within(99, 100);
    expect(backoffDelayMs(3, 0)).to.equal(400);
    expect(backoffDelayMs(30, 0.999)).to.be.within(59_900, 60_000);
  });
});

describe("identity agent (fake time, real CA)", function () {
  let issuer: Issuer;
  let anchors: string;
  let tokenFile: string;

  before(async () => {
    const trust = await generateTrust();
    anchors = trust.trustAnchorsPem;
    issuer = await loadIssuer({
      certPem: trust.issuerSecretData["tls.crt"],
      keyPem: trust.issuerSecretData["tls.key"],
      anchorsPem: anchors,
    });
    tokenFile = join(mkdtempSync(join(tmpdir(), "weft-agent-")), "token");
    writeFileSync(tokenFile, "tok-1");
  });

  function transport(clock: FakeClock, script: ("ok" | "fail")[], seen: CertifyRequest[]) {
    return {
      certify: async (req: CertifyRequest): Promise<CertifyResponse> => {
        seen.push(req);
        if (script.shift() === "fail") throw new Error("UNAVAILABLE: no issuer");
        const out = await certify(req, {
          issuer: () => issuer,
          review: async () => ({ authenticated: true, username: "system:serviceaccount:shop:web" }),
          trustDomain: "cluster.local",
          controlPlaneNamespace: "weft-system",
          leafLifetimeMs: 100_000,
          clockSkewMs: 0,
          now: () => new Date(clock.now()),
        });
        return out.response;
      },
    };
  }

  it("retries with backoff, opens the gate on the first certificate, renews at 70 % with the same key", async () => {
    const clock = new FakeClock();
    clock.t = Math.floor(clock.t / 1000) * 1000;
    const seen: CertifyRequest[] = [];
    let readyCalls = 0;
    const registry = new Registry();
    const agent = new IdentityAgent({
      identity: ID,
      tokenFile,
      anchorsPem: anchors,
      transport: transport(clock, ["fail", "fail", "ok", "ok"], seen),
      gate: { ready: () => readyCalls++ },
      registry,
      clock,
      random: () => 0,
    });
    await agent.start();
    expect(clock.delays).to.deep.equal([0]);
    await clock.fire();
    await clock.fire();
    expect(clock.delays).to.deep.equal([0, 50, 100]);
    expect(agent.current()).to.equal(undefined);
    expect(readyCalls).to.equal(0);
    await clock.fire();
    const first = agent.current()!;
    expect(first.identity).to.equal(ID);
    expect(readyCalls).to.equal(1);
    expect(clock.delays[3]).to.equal(refreshDelayMs(first.validUntil.getTime(), clock.t));
    expect(clock.delays[3]).to.be.within(69_800, 70_000);
    const metrics = await registry.metrics();
    expect(metrics).to.contain(
      `identity_cert_expiration_timestamp_seconds ${Math.floor(first.validUntil.getTime() / 1000)}`,
    );
    expect(metrics).to.match(/identity_cert_refresh_total\{result="error"\} 2/);
    writeFileSync(tokenFile, "tok-2");
    await clock.fire();
    const second = agent.current()!;
    expect(second.serialNumber).to.not.equal(first.serialNumber);
    expect(second.keyPem).to.equal(first.keyPem);
    expect(readyCalls).to.equal(1);
    expect(seen.map((r) => r.token.toString())).to.deep.equal(["tok-1", "tok-1", "tok-1", "tok-2"]);
    expect(seen[3].certificateSigningRequest).to.deep.equal(seen[0].certificateSigningRequest);
    agent.stop();
    expect((clock.pending[0] as { cancelled: boolean }).cancelled).to.equal(true);
  });

  it("refuses a response for another key or from another CA, and keeps retrying", async () => {
    const clock = new FakeClock();
    const other = await generateTrust();
    const lines: string[] = [];
    const agent = new IdentityAgent({
      identity: ID,
      tokenFile,
      anchorsPem: other.trustAnchorsPem,
      transport: transport(clock, ["ok"], []),
      clock,
      random: () => 0,
      log: (l) => lines.push(l),
    });
    await agent.start();
    await clock.fire();
    expect(agent.current()).to.equal(undefined);
    expect(lines.join("\n")).to.contain("does not chain to a trust anchor");
    expect(clock.delays).to.deep.equal([0, 50]);
  });
});
