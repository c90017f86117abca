// The cost of one mTLS handshake between proxies, full and resumed: N new connections one after
// another from an originator (this process) to a terminator (a child process, so each side's
// CPU is its own), each answered with two bytes and closed. Prints latency and CPU per handshake
// and the JS chain walk the terminator used to do on top of OpenSSL's. Asserts nothing.
//   node --require tsx/cjs bench/mtls/handshakes.ts          (BENCH_HANDSHAKES, default 500)
import { fork, type ChildProcess } from "node:child_process";
import * as net from "node:net";
import type * as tls from "node:tls";
import { performance } from "node:perf_hooks";
import type { Credentials } from "../../proxy/identity/agent";
import { pemToDer, verifyPeerChain } from "../../proxy/tls/chain";
import { MtlsCredentials, mtlsTerminator, originateTls } from "../../proxy/tls/mtls";
import { testCa } from "../../proxy/tls/test-pki";

const N = Math.min(Number(process.env.BENCH_HANDSHAKES ?? 500), 5000);
/** The whole run stops after this, whatever N is. */
const BUDGET_MS = 90_000;
const SRV = "server.bench.serviceaccount.identity.weft-system.cluster.local";
const CLI = "client.bench.serviceaccount.identity.weft-system.cluster.local";

type Msg = { port: number } | { cpuUs: number };

/** The child: a terminator on an ephemeral port; answers "cpu" with its CPU time used so far. */
function serve(creds: Credentials): void {
  const terminator = mtlsTerminator(new MtlsCredentials(creds));
  const server = net.createServer({ pauseOnConnect: true }, (raw) => {
    raw.on("error", () => raw.destroy());
    raw.once("data", (initial: Buffer) => {
      raw.pause();
      terminator.terminate(raw, initial).then(
        (t) => t?.socket.end("ok"),
        () => raw.destroy(),
      );
    });
    raw.resume();
  });
  server.listen(0, "127.0.0.1", () =>
    process.send?.({ port: (server.address() as net.AddressInfo).port } satisfies Msg),
  );
  process.on("message", (m) => {
    if (m !== "cpu") return process.exit(0);
    const u = process.cpuUsage();
    process.send?.({ cpuUs: u.user + u.system } satisfies Msg);
  });
}

function ask(child: ChildProcess, what: string): Promise<Msg> {
  return new Promise((resolve) => {
    child.once("message", (m) => resolve(m as Msg));
    child.send(what);
  });
}

/** One connection: resolves with the handshake's duration (ms) and whether it resumed. */
function once(
  creds: MtlsCredentials,
  port: number,
  resume: boolean,
): Promise<{ ms: number; resumed: boolean }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const peer = resume ? "127.0.0.1" : undefined;
    const sock: tls.TLSSocket = originateTls(
      creds,
      net.connect(port, "127.0.0.1"),
      SRV,
      ["http/1.1"],
      peer,
    );
    let ms = 0;
    let resumed = false;
    const timer = setTimeout(() => sock.destroy(new Error("handshake timed out")), 5000);
    sock.once("secureConnect", () => {
      ms = performance.now() - t0;
      resumed = sock.isSessionReused();
    });
    sock.on("data", () => undefined);
    sock.once("error", reject);
    // tickets come after the handshake: wait for the end so the next connection has one
    sock.once("end", () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ ms, resumed });
    });
  });
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function run(
  child: ChildProcess,
  creds: MtlsCredentials,
  port: number,
  resume: boolean,
  deadline: number,
): Promise<string> {
  await once(creds, port, resume); // warm-up, and the first ticket
  const before = ((await ask(child, "cpu")) as { cpuUs: number }).cpuUs;
  const cpu0 = process.cpuUsage();
  const times: number[] = [];
  let resumed = 0;
  for (let i = 0; i < N && Date.now() < deadline; i++) {
    const r = await once(creds, port, resume);
    times.push(r.ms);
    if (r.resumed) resumed++;
  }
  const cpu = process.cpuUsage(cpu0);
  const server = ((await ask(child, "cpu")) as { cpuUs: number }).cpuUs - before;
  times.sort((a, b) => a - b);
  const n = times.length;
  const f = (x: number): string => x.toFixed(0).padStart(5);
  return (
    `${resume ? "resumed" : "full   "} n=${n} resumed=${resumed}  handshake p50 ${pct(times, 50).toFixed(2)} ms` +
    ` p99 ${pct(times, 99).toFixed(2)} ms  CPU per connection: server ${f(server / n)} µs,` +
    ` client ${f((cpu.user + cpu.system) / n)} µs`
  );
}

/** What verifyPeerChain cost per call on a leaf + issuer chain (the walk the terminator dropped). */
function chainWalkUs(creds: Credentials): number {
  const chain = pemToDer(creds.certChainPem);
  for (let i = 0; i < 50; i++) verifyPeerChain(chain, creds.anchorsPem, Date.now());
  const t0 = performance.now();
  for (let i = 0; i < N; i++) verifyPeerChain(chain, creds.anchorsPem, Date.now());
  return ((performance.now() - t0) * 1000) / N;
}

async function main(): Promise<void> {
  const deadline = Date.now() + BUDGET_MS;
  const ca = await testCa();
  const [srv, cli] = [await ca.issue(SRV), await ca.issue(CLI)];
  const child = fork(__filename, ["serve"], { execArgv: ["--require", "tsx/cjs"] });
  try {
    child.send(srv);
    const { port } = (await new Promise((r) => child.once("message", r))) as { port: number };
    const creds = new MtlsCredentials(cli);
    console.log(`mTLS handshakes, ${N} new connections one after another (TLS 1.3, P-256):`);
    console.log(`  ${await run(child, creds, port, false, deadline)}`);
    console.log(`  ${await run(child, creds, port, true, deadline)}`);
    console.log(`  JS chain walk (verifyPeerChain) per call: ${chainWalkUs(cli).toFixed(0)} µs`);
  } finally {
    child.send("exit");
  }
}

if (process.argv[2] === "serve") process.once("message", (m) => serve(m as Credentials));
else void main();
