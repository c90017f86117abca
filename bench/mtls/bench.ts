// make bench → bench/mtls: what mTLS costs on a meshed hop. Two Weft proxies (the SEA binary)
// take the real meshed path: the outbound one asks a destination service which endpoint to use
// and whether it is meshed, gets its certificate from an identity service over a CSR, and
// originates mTLS to the inbound one, which terminates and verifies it. The same pair without a
// meshed endpoint is the plaintext baseline; HAProxy pairs with and without TLS on both sides are
// the peers, all in the same run on 127.0.0.1. Prints figures and ratios; asserts nothing.
//   node --require tsx/cjs bench/mtls/bench.ts
// The control plane runs in this process; its token review accepts any token (a stand-in for
// the API server's TokenReview, which a benchmark on loopback does not have).
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { generateTrust, issueServiceCertificate } from "../../operator/identity/ca";
import { IssuerStore } from "../../operator/identity/issuer-store";
import { IdentityMetrics } from "../../operator/identity/metrics";
import { ServingCertificate } from "../../operator/identity/self-tls";
import { startIdentityServer } from "../../operator/identity/server";
import { DEFAULT_OPTIONS, startDestination } from "../../operator/destination/main";
import { event, podObject, serviceObject, sliceObject } from "../../operator/destination/fixtures";
import { FeedWatchSource } from "../../operator/destination/watch";
import { backendNginx, haproxyHop, haproxyTlsHop, portsFrom, TLS_NAMES } from "../proxy/configs";
import { makePki } from "../proxy/pki";
import { constantRate, LOADGEN, pinLoad, wrk, type Latency } from "../proxy/load";
import { pinSelf, placement } from "../proxy/pin";
import { cpuUs, pinPeers, start, stop, type Proc } from "../proxy/procs";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const RATE = 1000;
const HANDSHAKES = Number(process.env.BENCH_HANDSHAKES ?? 300);
const WEFT_BIN = process.env.WEFT_PROXY_BIN ?? path.resolve(__dirname, "../../dist/weft-proxy");
const NS = "bench";
const TRUST = "serviceaccount.identity.weft-system.cluster.local";
const SERVER_ID = `server.${NS}.${TRUST}`;
const CLIENT_ID = `client.${NS}.${TRUST}`;
const IDENTITY_SVC_ID = `weft-identity.weft-system.${TRUST}`;
/** Every listener of this run: base .. base + 99, below the ephemeral range. */
const BASE = Number(process.env.BENCH_PORT_BASE ?? 24000);
const P = {
  app: portsFrom(BASE).backend,
  target: BASE + 8, // the "pod port" both inbound proxies listen on, each on its own pod IP
  weftOut: { mtls: BASE + 40, plain: BASE + 41 },
  admin: BASE + 50,
  hap: { outTls: BASE + 60, inTls: BASE + 61, outPlain: BASE + 62, inPlain: BASE + 63 },
};
const POD_IP = { mtls: "127.0.0.2", plain: "127.0.0.3" };
const CLUSTER_IP = { mtls: "10.96.7.1", plain: "10.96.7.2" };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitListening(host: string, port: number, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host);
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${host}:${port} after ${ms} ms`);
}

/** The control plane: an identity service and a destination fed two services, one meshed. */
async function controlPlane(dir: string) {
  const trust = await generateTrust();
  const store = new IssuerStore();
  await store.reload({ secretData: trust.issuerSecretData, anchorsPem: trust.trustAnchorsPem });
  const serving = new ServingCertificate(IDENTITY_SVC_ID, 3600_000);
  await serving.follow(store.current());
  const identity = await startIdentityServer(
    {
      issuer: () => store.current(),
      review: async (token) => ({
        authenticated: true,
        username: `system:serviceaccount:${NS}:${token.trim()}`,
      }),
      trustDomain: "cluster.local",
      controlPlaneNamespace: "weft-system",
      leafLifetimeMs: 3600_000,
      clockSkewMs: 20_000,
      now: () => new Date(),
      metrics: new IdentityMetrics(),
    },
    "127.0.0.1:0",
    serving.credentials(),
  );
  const feed = new FeedWatchSource();
  const destination = await startDestination({ ...DEFAULT_OPTIONS, addr: "127.0.0.1:0" }, feed);
  for (const kind of ["mtls", "plain"] as const) {
    const ports = [{ name: "http", port: 80, targetPort: P.target }];
    feed.push(event("Service", serviceObject(NS, kind, ports, { clusterIP: CLUSTER_IP[kind] })));
    const pod = `${kind}-0`;
    const meshed = kind === "mtls";
    feed.push(event("Pod", podObject(NS, pod, POD_IP[kind], { meshed, serviceAccount: "server" })));
    feed.push(
      event(
        "EndpointSlice",
        sliceObject(
          NS,
          `${kind}-x`,
          kind,
          [{ name: "http", port: P.target }],
          [{ ip: POD_IP[kind], pod }],
        ),
      ),
    );
  }
  for (const sa of ["client", "server"]) fs.writeFileSync(path.join(dir, sa), sa);
  // A client certificate of the mesh, for measuring handshakes against the inbound proxy.
  const clientCert = await issueServiceCertificate(store.current()!, { identity: CLIENT_ID });
  return {
    anchors: trust.trustAnchorsPem,
    clientCert,
    identityPort: identity.port,
    destinationPort: destination.port,
    stop: async (): Promise<void> => {
      await identity.close();
      serving.stop();
      await destination.stop();
    },
  };
}

type ControlPlane = Awaited<ReturnType<typeof controlPlane>>;

function weftEnv(
  cp: ControlPlane,
  dir: string,
  o: { sa: string; admin: number; identity: boolean; listen: Record<string, string> },
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: "/nonexistent",
    WEFT_PROXY_LOG: "error",
    WEFT_PROXY_ADMIN_LISTEN_ADDR: `127.0.0.1:${o.admin}`,
    WEFT_PROXY_CONTROL_LISTEN_ADDR: `127.0.0.1:${o.admin + 1}`,
    ...o.listen,
  };
  if (!o.identity) return { ...env, WEFT_PROXY_IDENTITY_DISABLED: "true" };
  return {
    ...env,
    WEFT_PROXY_IDENTITY_LOCAL_NAME: `${o.sa}.${NS}.${TRUST}`,
    WEFT_PROXY_IDENTITY_TOKEN_FILE: path.join(dir, o.sa),
    WEFT_PROXY_IDENTITY_TRUST_ANCHORS: cp.anchors,
    WEFT_PROXY_IDENTITY_SVC_ADDR: `127.0.0.1:${cp.identityPort}`,
    WEFT_PROXY_IDENTITY_SVC_NAME: IDENTITY_SVC_ID,
  };
}

/** A Weft pair: outbound (discovery + identity) → inbound on its pod IP → the app. */
function weftPair(cp: ControlPlane, dir: string, kind: "mtls" | "plain"): Proc[] {
  const admin = P.admin + (kind === "mtls" ? 0 : 4);
  const spare = (n: number): string => `127.0.0.1:${P.admin + 20 + n + (kind === "mtls" ? 0 : 4)}`;
  const inbound = start(
    `weft-in-${kind}`,
    WEFT_BIN,
    [],
    weftEnv(cp, dir, {
      sa: "server",
      admin,
      identity: kind === "mtls",
      listen: {
        WEFT_PROXY_INBOUND_LISTEN_ADDR: `${POD_IP[kind]}:${P.target}`,
        WEFT_PROXY_INBOUND_FIXED_TARGET: `127.0.0.1:${P.app}`,
        WEFT_PROXY_OUTBOUND_LISTEN_ADDR: spare(0),
      },
    }),
  );
  const outbound = start(
    `weft-out-${kind}`,
    WEFT_BIN,
    [],
    weftEnv(cp, dir, {
      sa: "client",
      admin: admin + 2,
      identity: true,
      listen: {
        WEFT_PROXY_OUTBOUND_LISTEN_ADDR: `127.0.0.1:${P.weftOut[kind]}`,
        // Stands in for SO_ORIGINAL_DST: the app dialled the Service's cluster IP.
        WEFT_PROXY_OUTBOUND_FIXED_TARGET: `${CLUSTER_IP[kind]}:80`,
        WEFT_PROXY_INBOUND_LISTEN_ADDR: spare(1),
        WEFT_PROXY_DESTINATION_SVC_ADDR: `127.0.0.1:${cp.destinationPort}`,
        WEFT_PROXY_DESTINATION_SVC_NAME: `weft-destination.weft-system.${TRUST}`,
      },
    }),
  );
  return [outbound, inbound];
}

/** An HAProxy pair, plaintext or with TLS 1.3 both ways (bench/proxy's configurations). */
function haproxyPair(dir: string, withTls: boolean): Proc[] {
  const [outPort, inPort] = withTls ? [P.hap.outTls, P.hap.inTls] : [P.hap.outPlain, P.hap.inPlain];
  const confs: [string, string][] = withTls
    ? [
        ["hap-out-tls", haproxyTlsHop(dir, "out", outPort, inPort)],
        ["hap-in-tls", haproxyTlsHop(dir, "in", inPort, P.app)],
      ]
    : [
        ["hap-out", haproxyHop(outPort, inPort, false)],
        ["hap-in", haproxyHop(inPort, P.app, false)],
      ];
  return confs.map(([name, conf]) => {
    const file = path.join(dir, `${name}.cfg`);
    fs.writeFileSync(file, conf);
    return start(name, "haproxy", ["-db", "-f", file]);
  });
}

interface Row {
  name: string;
  rps: number;
  cpuUsPerReq: number;
  lat: Latency;
  base: Latency;
}

const cpuOf = (procs: Proc[]): number =>
  procs.reduce((s, p) => s + cpuUs(p.child.pid as number), 0);

async function measure(name: string, port: number, procs: Proc[]): Promise<Row> {
  const url = `http://127.0.0.1:${port}/13`;
  process.stderr.write(`bench: ${name}: warm-up, saturation, ${RATE}/s\n`);
  const warm = await wrk(url, 2);
  if (warm.requests === 0 || warm.errors > warm.requests / 10) {
    throw new Error(
      `${name}: warm-up failed (${warm.errors} errors in ${warm.requests}): ${procs.map((p) => p.stderr()).join(" ")}`,
    );
  }
  const cpu0 = cpuOf(procs);
  const sat = await wrk(url, SECONDS);
  const cpu = cpuOf(procs) - cpu0;
  const base = await constantRate(`http://127.0.0.1:${P.app}/13`, RATE, SECONDS);
  const lat = await constantRate(url, RATE, SECONDS);
  return { name, rps: sat.rps, cpuUsPerReq: cpu / sat.requests / procs.length, lat, base };
}

interface Handshakes {
  name: string;
  msP50: number;
  msP99: number;
  serverCpuUsPerHandshake: number;
}

/** One full TLS handshake and request per connection, one at a time, to an inbound side. */
async function handshakes(
  name: string,
  server: Proc,
  connect: () => tls.TLSSocket,
): Promise<Handshakes> {
  const times: number[] = [];
  const cpu0 = cpuUs(server.child.pid as number);
  for (let i = 0; i < HANDSHAKES; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const s = connect();
      const timer = setTimeout(() => s.destroy(new Error("handshake timed out")), 5000);
      s.once("secureConnect", () => {
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        s.end("GET /13 HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n");
      });
      s.on("data", () => undefined);
      s.once("close", () => (clearTimeout(timer), resolve()));
      s.once("error", (e) => (clearTimeout(timer), reject(new Error(`${name}: ${e.message}`))));
    });
  }
  const cpu = cpuUs(server.child.pid as number) - cpu0;
  times.sort((a, b) => a - b);
  return {
    name,
    msP50: times[Math.floor(times.length / 2)],
    msP99: times[Math.min(times.length - 1, Math.ceil(times.length * 0.99) - 1)],
    serverCpuUsPerHandshake: cpu / HANDSHAKES,
  };
}

async function scrape(adminPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
  return res.text();
}

/** Outbound connections to the meshed peer, with TLS, against the requests they carried. */
async function reuse(adminPort: number): Promise<{ tlsConns: number; requests: number }> {
  const text = await scrape(adminPort);
  const sum = (re: RegExp): number =>
    text
      .split("\n")
      .filter((l) => re.test(l))
      .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
  return {
    tlsConns: sum(/^tcp_open_total\{direction="outbound",peer="dst"[^}]*tls="true"/),
    requests: sum(/^response_total\{direction="outbound"[^}]*tls="true"/),
  };
}

const f = (n: number, d = 0): string => (Number.isFinite(n) ? n.toFixed(d) : "-");
const ratio = (a: number, b: number): string => (a > 0 && b > 0 ? `${(a / b).toFixed(2)}×` : "-");

function print(rows: Row[], hs: Handshakes[], conns: { tlsConns: number; requests: number }): void {
  const added = (r: Row, k: "p50" | "p99"): number => r.lat[k] - r.base[k];
  console.log(
    `\nmTLS on a meshed hop (two proxies), /13, keep-alive; ${RATE}/s for ${SECONDS} s (${LOADGEN}):`,
  );
  console.log(
    "  target        RPS(sat)  CPU µs/req/proxy  p50/p99 ms @1k  added p50/p99 ms  (direct p50/p99)",
  );
  for (const r of rows) {
    console.log(
      `  ${r.name.padEnd(12)}  ${f(r.rps).padStart(8)}  ${f(r.cpuUsPerReq, 1).padStart(16)}  ` +
        `${`${f(r.lat.p50, 2)}/${f(r.lat.p99, 2)}`.padStart(14)}  ` +
        `${`${f(added(r, "p50"), 2)}/${f(added(r, "p99"), 2)}`.padStart(16)}  (${f(r.base.p50, 2)}/${f(r.base.p99, 2)})` +
        `${r.lat.errors ? `  ${r.lat.errors} errors` : ""}`,
    );
  }
  const by = (n: string): Row | undefined => rows.find((r) => r.name === n);
  const [wm, wp, hm, hp] = ["weft mTLS", "weft plain", "haproxy TLS", "haproxy"].map(by);
  if (wm && wp) {
    console.log(
      `  mTLS over plaintext, Weft: CPU/req ${ratio(wm.cpuUsPerReq, wp.cpuUsPerReq)}, RPS ${ratio(wm.rps, wp.rps)}, ` +
        `added p99 +${f(added(wm, "p99") - added(wp, "p99"), 2)} ms`,
    );
  }
  if (hm && hp) {
    console.log(
      `  TLS over plaintext, HAProxy: CPU/req ${ratio(hm.cpuUsPerReq, hp.cpuUsPerReq)}, RPS ${ratio(hm.rps, hp.rps)}`,
    );
  }
  if (wm && hm) {
    console.log(
      `  Weft mTLS against HAProxy TLS: CPU/req ${ratio(wm.cpuUsPerReq, hm.cpuUsPerReq)}, RPS ${ratio(wm.rps, hm.rps)}, ` +
        `added p99 ${ratio(added(wm, "p99"), added(hm, "p99"))}`,
    );
  }
  console.log(
    `\nhandshakes (${HANDSHAKES} new connections one after another, client certificate, one request each):`,
  );
  for (const h of hs) {
    console.log(
      `  ${h.name.padEnd(22)} handshake p50 ${f(h.msP50, 2)} ms, p99 ${f(h.msP99, 2)} ms; server CPU ${f(h.serverCpuUsPerHandshake)} µs per connection`,
    );
  }
  console.log(
    `\nconnection reuse: the Weft outbound proxy carried ${conns.requests} meshed requests over ${conns.tlsConns} mTLS connection(s)`,
  );
}

async function main(): Promise<void> {
  // The same placement as bench/proxy (BENCH_PIN); the in-process control plane goes with the load.
  const place = placement();
  pinLoad(place.load);
  pinPeers(place.peers);
  pinSelf(place.load);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weft-bench-mtls-"));
  fs.writeFileSync(path.join(dir, "16k.bin"), Buffer.alloc(16 * 1024, 120));
  fs.writeFileSync(path.join(dir, "backend.conf"), backendNginx(dir, portsFrom(BASE)));
  const app = start("backend", "nginx", ["-c", path.join(dir, "backend.conf"), "-e", "stderr"]);
  const cp = await controlPlane(dir);
  makePki(dir, [TLS_NAMES.haproxyOut, TLS_NAMES.haproxyIn]);
  const rows: Row[] = [];
  const hs: Handshakes[] = [];
  let conns = { tlsConns: 0, requests: 0 };
  try {
    await waitListening("127.0.0.1", P.app);
    const load = os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ");
    console.log(`bench mtls: ${os.cpus().length} CPUs, load average ${load}; ${place.describe}`);
    for (const kind of ["plain", "mtls"] as const) {
      const procs = weftPair(cp, dir, kind);
      try {
        await waitListening("127.0.0.1", P.weftOut[kind]);
        await waitListening(POD_IP[kind], P.target);
        await sleep(1500); // the first certificate and the first resolution
        rows.push(
          await measure(kind === "mtls" ? "weft mTLS" : "weft plain", P.weftOut[kind], procs),
        );
        if (kind === "mtls") {
          conns = await reuse(P.admin + 2);
          const cert = cp.clientCert;
          hs.push(
            await handshakes("weft inbound (mTLS)", procs[1], () =>
              tls.connect({
                host: POD_IP.mtls,
                port: P.target,
                servername: SERVER_ID,
                cert: cert.certChainPem,
                key: cert.keyPem,
                ca: cp.anchors,
                ALPNProtocols: ["http/1.1"],
                minVersion: "TLSv1.3",
              }),
            ),
          );
        }
      } finally {
        for (const p of procs) await stop(p);
      }
    }
    for (const withTls of [false, true]) {
      const procs = haproxyPair(dir, withTls);
      try {
        const out = withTls ? P.hap.outTls : P.hap.outPlain;
        await waitListening("127.0.0.1", out);
        rows.push(await measure(withTls ? "haproxy TLS" : "haproxy", out, procs));
        if (withTls) {
          hs.push(
            await handshakes("haproxy inbound (TLS)", procs[1], () =>
              tls.connect({
                host: "127.0.0.1",
                port: P.hap.inTls,
                servername: TLS_NAMES.haproxyIn,
                cert: fs.readFileSync(path.join(dir, `${TLS_NAMES.haproxyOut}.pem`)),
                key: fs.readFileSync(path.join(dir, `${TLS_NAMES.haproxyOut}.pem`)),
                ca: fs.readFileSync(path.join(dir, "ca.crt")),
                ALPNProtocols: ["http/1.1"],
                minVersion: "TLSv1.3",
              }),
            ),
          );
        }
      } finally {
        for (const p of procs) await stop(p);
      }
    }
    print(rows, hs, conns);
  } finally {
    await stop(app);
    await cp.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`bench mtls: ${err.message}`);
    process.exit(1);
  },
);
