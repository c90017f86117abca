import { expect } from "chai";
import * as net from "node:net";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { generateTrust, type GeneratedTrust } from "../../operator/identity/ca";
import { IssuerStore } from "../../operator/identity/issuer-store";
import { IdentityMetrics } from "../../operator/identity/metrics";
import { startIdentityServer, type RunningServer } from "../../operator/identity/server";
import { IdentityAgent, type Credentials } from "../identity/agent";
import { grpcCertifyTransport, type GrpcTransport } from "../identity/transport";
import { MtlsCredentials, mtlsTerminator, originateTls } from "./mtls";

const SRV = "srv.ns.serviceaccount.identity.weft-system.cluster.local";
const CLI = "cli.ns.serviceaccount.identity.weft-system.cluster.local";
const LIFETIME_MS = 30_000;

/** A line echo server behind the terminator: answers "<client-id> <line>" per line. */
async function echoServer(creds: MtlsCredentials): Promise<{ port: number; close(): void }> {
  const terminator = mtlsTerminator(creds);
  const server = net.createServer((raw) => {
    raw.on("error", () => raw.destroy());
    raw.once("data", (initial: Buffer) => {
      raw.pause();
      terminator.terminate(raw, initial).then(
        (t) => {
          if (!t) return raw.destroy();
          t.socket.on("data", (d: Buffer) => t.socket.write(`${t.clientIdentity} ${d.toString()}`));
          t.socket.on("error", () => t.socket.destroy());
        },
        () => raw.destroy(),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

/** One request on a fresh mTLS connection; resolves with the server's leaf serial. */
function oneShot(creds: MtlsCredentials, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = originateTls(creds, net.connect(port, "127.0.0.1"), SRV);
    const timer = setTimeout(() => reject(new Error("timeout")), 2000);
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on("secureConnect", () => sock.write("ping\n"));
    sock.on("data", (d: Buffer) => {
      clearTimeout(timer);
      const serial = sock.getPeerCertificate().serialNumber;
      sock.destroy();
      if (d.toString() === `${CLI} ping\n`) resolve(serial);
      else reject(new Error(`unexpected answer ${JSON.stringify(d.toString())}`));
    });
  });
}

describe("renewal and trust-anchor rotation under traffic (loopback, 30 s certificates)", function () {
  this.timeout(45_000);
  let oldTrust: GeneratedTrust;
  let newTrust: GeneratedTrust;
  let store: IssuerStore;
  let identity: RunningServer;
  const transports: GrpcTransport[] = [];
  const agents: IdentityAgent[] = [];

  before(async () => {
    oldTrust = await generateTrust();
    newTrust = await generateTrust();
    store = new IssuerStore();
    await store.reload({
      secretData: oldTrust.issuerSecretData,
      anchorsPem: oldTrust.trustAnchorsPem,
    });
    identity = await startIdentityServer(
      {
        issuer: () => store.current(),
        review: async (token) => ({
          authenticated: true,
          username: `system:serviceaccount:ns:${token}`,
        }),
        trustDomain: "cluster.local",
        controlPlaneNamespace: "weft-system",
        leafLifetimeMs: LIFETIME_MS,
        clockSkewMs: 0,
        now: () => new Date(),
        metrics: new IdentityMetrics(),
      },
      "127.0.0.1:0",
    );
  });
  after(async () => {
    for (const a of agents) a.stop();
    for (const t of transports) t.close();
    await identity.close();
  });

  function agentFor(id: string, sa: string, anchorsPem: string): IdentityAgent {
    const dir = mkdtempSync(join(tmpdir(), "weft-renew-"));
    writeFileSync(join(dir, "token"), sa);
    const transport = grpcCertifyTransport(`127.0.0.1:${identity.port}`);
    transports.push(transport);
    const agent = new IdentityAgent({
      identity: id,
      tokenFile: join(dir, "token"),
      anchorsPem,
      transport,
    });
    agents.push(agent);
    return agent;
  }

  it("renews before expiry and rotates to a new anchor with no failed request", async () => {
    // Step 1 of the rotation: proxies trust a bundle of the old and the new anchor.
    const bundle = oldTrust.trustAnchorsPem + newTrust.trustAnchorsPem;
    const srvAgent = agentFor(SRV, "srv", bundle);
    const cliAgent = agentFor(CLI, "cli", bundle);
    const srvCreds = new MtlsCredentials();
    const cliCreds = new MtlsCredentials();
    const history: Record<string, Credentials[]> = { [SRV]: [], [CLI]: [] };
    for (const [agent, creds] of [
      [srvAgent, srvCreds],
      [cliAgent, cliCreds],
    ] as const) {
      agent.onCredentials((c) => {
        creds.update(c);
        history[c.identity].push(c);
      });
      await agent.start();
      await agent.firstCredentials();
    }
    const firstExpiry = Math.min(
      history[SRV][0].validUntil.getTime(),
      history[CLI][0].validUntil.getTime(),
    );
    // Step 2: the issuer moves to the new anchor; renewals pick it up.
    const moved = await store.reload({ secretData: newTrust.issuerSecretData, anchorsPem: bundle });
    expect(moved.kind).to.equal("loaded");

    const server = await echoServer(srvCreds);
    let ok = 0;
    const failures: string[] = [];
    const serials = new Set<string>();
    const persistent = originateTls(cliCreds, net.connect(server.port, "127.0.0.1"), SRV);
    let persistentAnswers = 0;
    persistent.on("data", () => persistentAnswers++);
    persistent.on("error", (e) => failures.push(`persistent: ${e.message}`));
    const deadline = Date.now() + 28_000;
    for (let i = 0; i < 400 && Date.now() < deadline; i++) {
      if (history[SRV].length >= 2 && history[CLI].length >= 2 && ok > 20 && serials.size >= 2)
        break;
      await oneShot(cliCreds, server.port).then(
        (serial) => {
          ok++;
          serials.add(serial);
        },
        (e: Error) => failures.push(e.message),
      );
      persistent.write("ping\n");
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(failures).to.deep.equal([]);
    expect(history[SRV].length, "server renewed").to.be.at.least(2);
    expect(history[CLI].length, "client renewed").to.be.at.least(2);
    const renewedAt = Math.max(
      ...[SRV, CLI].map((id) =>
        Date.parse(new X509Certificate(history[id][1].certChainPem).validFrom),
      ),
    );
    expect(renewedAt).to.be.lessThan(firstExpiry);
    expect(
      serials.size,
      "requests were served by the old and the renewed server certificate",
    ).to.be.at.least(2);
    expect(persistentAnswers).to.be.greaterThan(100);
    expect(persistent.destroyed).to.equal(false);

    // Step 3: the old anchor is removed; a proxy that trusts only the new one still talks to the server,
    // and one that trusts only the old one no longer can.
    const current = cliAgent.current()!;
    expect(
      await oneShot(
        new MtlsCredentials({ ...current, anchorsPem: newTrust.trustAnchorsPem }),
        server.port,
      ),
    ).to.be.a("string");
    const stale = await oneShot(
      new MtlsCredentials({ ...current, anchorsPem: oldTrust.trustAnchorsPem }),
      server.port,
    ).then(
      () => "answered",
      (e: Error) => e.message,
    );
    expect(stale).to.not.equal("answered");
    persistent.destroy();
    server.close();
  });
});
