// make bench → bench/run.sh → here. Direct vs a Weft outbound→inbound pair vs HAProxy and nginx
// pairs, and a Weft pair with mTLS between its hops vs an HAProxy pair with TLS on both sides, all
// on 127.0.0.1, same run. Load generators and peers on separate CPUs (pin.ts). Prints figures and
// ratios against HAProxy; asserts nothing.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  allPorts,
  backendNginx,
  haproxyHop,
  haproxyTlsHop,
  TLS_NAMES,
  weftTlsEnv,
  nginxHop,
  portsFrom,
  weftHopEnv,
  type Ports,
} from "./configs";
import {
  constantRate,
  h2load,
  LOADGEN,
  pinLoad,
  WARM_SECONDS,
  wrk,
  type Latency,
  type Saturation,
} from "./load";
import { pinSelf, placement } from "./pin";
import {
  bundleMtlsHop,
  handshakeLoop,
  haproxyTlsCounts,
  weftTlsCounts,
  type Handshakes,
  type LoopPeer,
  type TlsCounts,
} from "./tls";
import { makePki } from "./pki";
import {
  cpuUs,
  mem,
  pinPeers,
  portFree,
  sampleMem,
  start,
  stop,
  waitPort,
  type Mem,
  type Proc,
} from "./procs";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const RATES = (process.env.BENCH_RATES ?? "1000,5000").split(",").map(Number);
const WEFT_BIN = process.env.WEFT_PROXY_BIN ?? path.resolve(__dirname, "../../dist/weft-proxy");
const BODIES = ["13", "16k"];

interface Target {
  name: string;
  port: number;
  start: (dir: string) => Proc[];
  /** mTLS pairs: how to count the inbound hop's handshakes and reach it with new connections. */
  tls?: { counts: () => Promise<TlsCounts>; loop: LoopPeer };
}

interface TlsRow {
  target: string;
  counts: TlsCounts;
  loop: Handshakes;
  /** CPU of the inbound hop per new connection in the loop, µs. */
  cpuUsPerConn: number;
}

const tlsRows: TlsRow[] = [];
/** The bench temp dir (certificates, stats sockets). */
let tlsDir = "";
/** The bundled bench-only mTLS hop (bench/proxy/mtls-hop.ts), set once the PKI exists. */
let mtlsHop = "";

interface Row {
  target: string;
  body: string;
  sat: Saturation;
  cpuUsPerReq: number;
  lat: Latency[];
  /** Direct to the backend at the same rate, measured just before `lat`: the baseline for "added". */
  baseline: Latency[];
  idle: Mem;
  load: Mem;
}

function nginxProc(dir: string, name: string, conf: string): Proc {
  const file = path.join(dir, `${name}.conf`);
  fs.writeFileSync(file, conf);
  return start(name, "nginx", ["-c", file, "-e", "stderr"]);
}

function haproxyProc(dir: string, name: string, conf: string): Proc {
  const file = path.join(dir, `${name}.cfg`);
  fs.writeFileSync(file, conf);
  return start(name, "haproxy", ["-db", "-f", file]);
}

const targets = (PORTS: Ports): Target[] => [
  { name: "direct", port: PORTS.backend, start: () => [] },
  {
    name: "weft",
    port: PORTS.weft.out,
    start: () => [
      start(
        "weft-in",
        WEFT_BIN,
        [],
        weftHopEnv("in", PORTS.weft.in, PORTS.backend, PORTS.weftAdmin),
      ),
      start(
        "weft-out",
        WEFT_BIN,
        [],
        weftHopEnv("out", PORTS.weft.out, PORTS.weft.in, PORTS.weftAdmin + 2),
      ),
    ],
  },
  {
    name: "haproxy",
    port: PORTS.haproxy.out,
    start: (dir) => [
      haproxyProc(dir, "haproxy-in", haproxyHop(PORTS.haproxy.in, PORTS.backend, false)),
      haproxyProc(dir, "haproxy-out", haproxyHop(PORTS.haproxy.out, PORTS.haproxy.in, false)),
    ],
  },
  {
    name: "weft-mtls",
    port: PORTS.weftTls.out,
    start: (dir) => [
      start("weft-mtls-in", process.execPath, [mtlsHop], {
        ...weftHopEnv("in", PORTS.weftTls.in, PORTS.backend, PORTS.weftAdmin + 20),
        ...weftTlsEnv(dir, "in"),
      }),
      start("weft-mtls-out", process.execPath, [mtlsHop], {
        ...weftHopEnv("out", PORTS.weftTls.out, PORTS.weftTls.in, PORTS.weftAdmin + 22),
        ...weftTlsEnv(dir, "out"),
      }),
    ],
    tls: {
      counts: () => weftTlsCounts(PORTS.weftAdmin + 20, PORTS.weftAdmin + 22),
      loop: {
        port: PORTS.weftTls.in,
        dir: "",
        clientName: TLS_NAMES.weftOut,
        serverName: TLS_NAMES.weftIn,
      },
    },
  },
  {
    name: "haproxy-tls",
    port: PORTS.haproxyTls.out,
    start: (dir) => [
      haproxyProc(
        dir,
        "haproxy-tls-in",
        haproxyTlsHop(dir, "in", PORTS.haproxyTls.in, PORTS.backend),
      ),
      haproxyProc(
        dir,
        "haproxy-tls-out",
        haproxyTlsHop(dir, "out", PORTS.haproxyTls.out, PORTS.haproxyTls.in),
      ),
    ],
    tls: {
      counts: () => haproxyTlsCounts(path.join(tlsDir, "haproxy-tls-in.sock")),
      loop: {
        port: PORTS.haproxyTls.in,
        dir: "",
        clientName: TLS_NAMES.haproxyOut,
        serverName: TLS_NAMES.haproxyIn,
      },
    },
  },
  {
    name: "nginx",
    port: PORTS.nginx.out,
    start: (dir) => [
      nginxProc(dir, "nginx-in", nginxHop(dir, "nginx-in", PORTS.nginx.in, PORTS.backend)),
      nginxProc(dir, "nginx-out", nginxHop(dir, "nginx-out", PORTS.nginx.out, PORTS.nginx.in)),
    ],
  },
];

const pids = (procs: Proc[]): number[] => procs.map((p) => p.child.pid as number);
const cpuOf = (procs: Proc[]): number => pids(procs).reduce((s, p) => s + cpuUs(p), 0);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function maxMem(procs: Proc[]): Mem {
  const ms = pids(procs).map(mem);
  return {
    rssKb: Math.max(0, ...ms.map((m) => m.rssKb)),
    anonKb: Math.max(0, ...ms.map((m) => m.anonKb)),
  };
}

async function measureBody(
  t: Target,
  procs: Proc[],
  body: string,
  idle: Mem,
  backend: number,
): Promise<Row> {
  const url = `http://127.0.0.1:${t.port}/${body}`;
  const directUrl = `http://127.0.0.1:${backend}/${body}`;
  process.stderr.write(`bench: ${t.name} /${body}: warm-up, saturation`);
  await wrk(url, 2);
  const cpu0 = cpuOf(procs);
  const sat = await wrk(url, SECONDS);
  const cpu = cpuOf(procs) - cpu0;
  const lat: Latency[] = [];
  const baseline: Latency[] = [];
  let load: Mem = { rssKb: 0, anonKb: 0 };
  for (const rate of RATES) {
    process.stderr.write(`, ${rate}/s`);
    // Paired with a direct run right before, so a busy host shifts both alike.
    if (procs.length) baseline.push(await constantRate(directUrl, rate, SECONDS));
    const sampler = sampleMem(pids(procs));
    lat.push(await constantRate(url, rate, SECONDS));
    const m = sampler();
    load = { rssKb: Math.max(load.rssKb, m.rssKb), anonKb: Math.max(load.anonKb, m.anonKb) };
  }
  process.stderr.write("\n");
  // Per proxy: the pair's CPU split over its two hops.
  const cpuUsPerReq = procs.length ? cpu / sat.requests / procs.length : NaN;
  return {
    target: t.name,
    body,
    sat,
    cpuUsPerReq,
    lat,
    baseline: procs.length ? baseline : lat,
    idle,
    load,
  };
}

const HANDSHAKE_SECONDS = 3;

/** BENCH_TARGETS=direct,weft-mtls,... runs only those (default: all). */
function chosen(all: Target[]): Target[] {
  const only = process.env.BENCH_TARGETS?.split(",").map((x) => x.trim());
  return only === undefined ? all : all.filter((t) => only.includes(t.name));
}

/** Handshakes counted over the whole run so far, then a bounded loop of new connections. */
async function measureTls(
  name: string,
  tls: NonNullable<Target["tls"]>,
  inbound: Proc,
): Promise<TlsRow> {
  process.stderr.write(`bench: ${name}: handshake counts, new-connection loop\n`);
  const counts = await tls.counts();
  const cpu0 = cpuUs(inbound.child.pid as number);
  const loop = await handshakeLoop({ ...tls.loop, dir: tlsDir }, HANDSHAKE_SECONDS);
  const cpu = cpuUs(inbound.child.pid as number) - cpu0;
  return { target: name, counts, loop, cpuUsPerConn: cpu / Math.max(1, loop.count) };
}

async function startTarget(t: Target, dir: string): Promise<Proc[]> {
  const procs = t.start(dir);
  try {
    await waitPort(t.port);
  } catch (err) {
    throw new Error(
      `${t.name}: ${(err as Error).message}; ${procs.map((p) => p.stderr()).join(" ")}`,
    );
  }
  await sleep(1000);
  return procs;
}

async function runTarget(t: Target, dir: string, backend: number): Promise<Row[]> {
  const procs = await startTarget(t, dir);
  const idle = maxMem(procs);
  const rows: Row[] = [];
  try {
    for (const body of BODIES) rows.push(await measureBody(t, procs, body, idle, backend));
    if (t.tls) tlsRows.push(await measureTls(t.name, t.tls, procs[0]));
  } finally {
    for (const p of procs) await stop(p);
  }
  return rows;
}

interface H2Row {
  target: string;
  sat: Saturation;
  cpuUsPerReq: number;
}

async function runH2(dir: string, PORTS: Ports): Promise<H2Row[]> {
  const h2: Target[] = [
    { name: "direct", port: PORTS.backendH2, start: () => [] },
    {
      name: "weft",
      port: PORTS.weft.out + 50,
      start: () => [
        start(
          "weft-in",
          WEFT_BIN,
          [],
          weftHopEnv("in", PORTS.weft.in + 50, PORTS.backendH2, PORTS.weftAdmin + 4),
        ),
        start(
          "weft-out",
          WEFT_BIN,
          [],
          weftHopEnv("out", PORTS.weft.out + 50, PORTS.weft.in + 50, PORTS.weftAdmin + 6),
        ),
      ],
    },
    {
      name: "haproxy",
      port: PORTS.haproxy.out + 50,
      start: (d) => [
        haproxyProc(d, "h2-haproxy-in", haproxyHop(PORTS.haproxy.in + 50, PORTS.backendH2, true)),
        haproxyProc(
          d,
          "h2-haproxy-out",
          haproxyHop(PORTS.haproxy.out + 50, PORTS.haproxy.in + 50, true),
        ),
      ],
    },
  ];
  const rows: H2Row[] = [];
  for (const t of h2) {
    process.stderr.write(`bench: h2 ${t.name}\n`);
    const procs = await startTarget(t, dir);
    try {
      const url = `http://127.0.0.1:${t.port}/13`;
      await h2load(url, 2);
      const cpu0 = cpuOf(procs);
      const sat = await h2load(url, SECONDS);
      rows.push({
        target: t.name,
        sat,
        cpuUsPerReq: procs.length ? (cpuOf(procs) - cpu0) / sat.requests / procs.length : NaN,
      });
    } catch (err) {
      process.stderr.write(`bench: h2 ${t.name} failed: ${(err as Error).message.slice(0, 300)}\n`);
    } finally {
      for (const p of procs) await stop(p);
    }
  }
  return rows;
}

const f = (n: number, d = 0): string => (Number.isFinite(n) ? n.toFixed(d) : "-");
const mb = (kb: number): string => (kb > 0 ? (kb / 1024).toFixed(1) : "-");

function added(row: Row, i: number, k: "p50" | "p99" | "p999"): number {
  return row.target === "direct" ? NaN : row.lat[i][k] - row.baseline[i][k];
}

function printTable(rows: Row[]): void {
  const head = ["target", "body", "RPS(sat)", "err", "CPU µs/req/proxy"];
  RATES.forEach((r) => head.push(`p50/p99/p99.9 ms @${r}/s (achieved)`, `added p50/p99/p99.9`));
  head.push("RSS idle/load MB", "RssAnon idle/load MB");
  const lines = [head];
  for (const r of rows) {
    const cells = [r.target, r.body, f(r.sat.rps), f(r.sat.errors), f(r.cpuUsPerReq, 1)];
    r.lat.forEach((l, i) => {
      const abs = [l.p50, l.p99, l.p999].map((x) => f(x, 2)).join("/");
      cells.push(`${abs} (${f(l.achieved)}${l.errors ? `, ${l.errors} err` : ""})`);
      const plus = (["p50", "p99", "p999"] as const).map((k) => f(added(r, i, k), 2)).join("/");
      cells.push(r.target === "direct" ? "-" : plus);
    });
    cells.push(
      `${mb(r.idle.rssKb)}/${mb(r.load.rssKb)}`,
      `${mb(r.idle.anonKb)}/${mb(r.load.anonKb)}`,
    );
    lines.push(cells);
  }
  const widths = head.map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  for (const l of lines) console.log(l.map((c, i) => c.padEnd(widths[i])).join("  "));
  console.log(
    `(constant rate by ${LOADGEN}; added: minus a direct run at the same rate just before; latency after the first ${WARM_SECONDS} s of each constant-rate run, when the generator opens its connections — that ramp is below; RSS and RssAnon: the larger hop of the pair)`,
  );
  printRamp(rows);
}

/** p99 of the first second of each constant-rate run: new connections through every hop. */
function printRamp(rows: Row[]): void {
  console.log(
    `\nconnection ramp (p99 ms of the first ${WARM_SECONDS} s of each constant-rate run):`,
  );
  for (const r of rows) {
    const cells = r.lat.map(
      (l, i) => `@${l.rate}/s ${f(l.rampP99, 2)} (direct ${f(r.baseline[i].rampP99, 2)})`,
    );
    console.log(`  ${r.target.padEnd(8)} /${r.body.padEnd(4)} ${cells.join("  ")}`);
  }
}

/** a/b, or "-" when either is not a positive number (added latency can be noise below zero). */
function ratio(a: number, b: number): string {
  return a > 0 && b > 0 ? `${(a / b).toFixed(2)}×` : "-";
}

function printRatios(rows: Row[]): void {
  console.log("\nratios against HAProxy (same body, same run; < 1 means less than HAProxy):");
  // Each against the HAProxy pair that does the same: plaintext against plaintext, mTLS against TLS.
  const peerOf: Record<string, string> = {
    weft: "haproxy",
    nginx: "haproxy",
    "weft-mtls": "haproxy-tls",
  };
  for (const r of rows.filter((x) => peerOf[x.target] !== undefined)) {
    const h = rows.find((x) => x.target === peerOf[r.target] && x.body === r.body);
    if (!h) continue;
    const parts = [
      `RPS ${ratio(r.sat.rps, h.sat.rps)}`,
      `CPU/req ${ratio(r.cpuUsPerReq, h.cpuUsPerReq)}`,
      ...RATES.map(
        (rate, i) => `added p99 @${rate}/s ${ratio(added(r, i, "p99"), added(h, i, "p99"))}`,
      ),
      `RSS idle ${ratio(r.idle.rssKb, h.idle.rssKb)}`,
      `RssAnon idle ${ratio(r.idle.anonKb, h.idle.anonKb)}`,
      `RssAnon load ${ratio(r.load.anonKb, h.load.anonKb)}`,
    ];
    console.log(
      `  ${r.target.padEnd(9)} /${r.body.padEnd(4)} ${parts.join("  ")} (vs ${h.target})`,
    );
  }
}

function printTls(rows: Row[]): void {
  if (tlsRows.length === 0) return;
  console.log(
    "\nmTLS between the hops (TLS 1.3, ECDSA P-256 certificates from one bench CA, both sides verified):",
  );
  for (const t of tlsRows) {
    const per = t.counts.requests / Math.max(1, t.counts.handshakes);
    console.log(
      `  ${t.target.padEnd(11)} reuse: ${t.counts.handshakes} TLS connections between the hops for ${t.counts.requests} requests (${f(per)} requests each)`,
    );
    console.log(
      `  ${"".padEnd(11)} new connection (TCP + mTLS handshake + 1 request, sequential, ${HANDSHAKE_SECONDS} s): ${f(t.loop.msPerConn, 2)} ms each, inbound hop CPU ${f(t.cpuUsPerConn)} µs each (${t.loop.count} connections)`,
    );
  }
  const pairs: [string, string][] = [
    ["weft-mtls", "weft"],
    ["haproxy-tls", "haproxy"],
  ];
  console.log("  mTLS vs plaintext, same body, same run (reused connections):");
  for (const [tlsName, plainName] of pairs) {
    for (const body of BODIES) {
      const a = rows.find((r) => r.target === tlsName && r.body === body);
      const b = rows.find((r) => r.target === plainName && r.body === body);
      if (!a || !b) continue;
      const lat = RATES.map(
        (rate, i) =>
          `added p50/p99 @${rate}/s ${f(added(a, i, "p50"), 2)}/${f(added(a, i, "p99"), 2)} vs ${f(added(b, i, "p50"), 2)}/${f(added(b, i, "p99"), 2)}`,
      );
      console.log(
        `    ${tlsName.padEnd(11)} /${body.padEnd(4)} CPU/req ${f(a.cpuUsPerReq, 1)} vs ${f(b.cpuUsPerReq, 1)} µs (${ratio(a.cpuUsPerReq, b.cpuUsPerReq)})  ${lat.join("  ")}`,
      );
    }
  }
  const w = tlsRows.find((t) => t.target === "weft-mtls");
  const h = tlsRows.find((t) => t.target === "haproxy-tls");
  if (w && h) {
    console.log(
      `  weft-mtls vs haproxy-tls: handshake time ${ratio(w.loop.msPerConn, h.loop.msPerConn)}, handshake CPU ${ratio(w.cpuUsPerConn, h.cpuUsPerConn)}`,
    );
  }
}

function printH2(rows: H2Row[]): void {
  console.log("\nHTTP/2 (h2load, h2c prior knowledge, 16 connections × 16 streams, /13):");
  const h = rows.find((r) => r.target === "haproxy");
  for (const r of rows) {
    const vs =
      h && r.target !== "haproxy" && r.target !== "direct"
        ? `  RPS ${ratio(r.sat.rps, h.sat.rps)} CPU/req ${ratio(r.cpuUsPerReq, h.cpuUsPerReq)} vs HAProxy`
        : "";
    const failed = r.sat.rps === 0 ? " (no successful requests)" : "";
    console.log(
      `  ${r.target.padEnd(8)} ${f(r.sat.rps).padStart(7)} req/s${failed}  ${f(r.sat.errors)} err  CPU ${f(r.cpuUsPerReq, 1)} µs/req/proxy${vs}`,
    );
  }
  console.log("  nginx: not measured (nginx cannot proxy to an h2c upstream)");
}

/** The first base whose ports are all free on 127.0.0.1 (other benchmarks may share the host). */
async function freePorts(): Promise<Ports> {
  const bases = process.env.BENCH_PORT_BASE
    ? [Number(process.env.BENCH_PORT_BASE)]
    : [20000, 23000, 26000, 29000];
  for (const base of bases) {
    const p = portsFrom(base);
    const free = await Promise.all(allPorts(p).map(portFree));
    if (free.every(Boolean)) return p;
  }
  throw new Error(
    `no free port range on 127.0.0.1 from bases ${bases.join(", ")} (set BENCH_PORT_BASE)`,
  );
}

async function main(): Promise<void> {
  const place = placement();
  pinLoad(place.load);
  pinPeers(place.peers);
  pinSelf(place.load);
  const PORTS = await freePorts();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weft-bench-"));
  tlsDir = dir;
  makePki(dir, Object.values(TLS_NAMES));
  mtlsHop = await bundleMtlsHop(dir);
  fs.writeFileSync(path.join(dir, "16k.bin"), Buffer.alloc(16 * 1024, 120));
  const backend = nginxProc(dir, "backend", backendNginx(dir, PORTS));
  const rows: Row[] = [];
  try {
    await waitPort(PORTS.backend);
    const load = os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ");
    console.log(
      `bench: ${os.cpus().length} CPUs, load average ${load}, ${SECONDS} s per load, ports from ${PORTS.backend - 80}`,
    );
    console.log(`bench: ${place.describe}`);
    for (const t of chosen(targets(PORTS))) rows.push(...(await runTarget(t, dir, PORTS.backend)));
    console.log("");
    printTable(rows);
    printRatios(rows);
    printTls(rows);
    if (process.env.BENCH_H2 !== "false") printH2(await runH2(dir, PORTS));
  } finally {
    await stop(backend);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

process.on("uncaughtException", (err) => {
  console.error(`bench: ${err.stack ?? err.message}`);
  process.exit(1);
});

main().catch((err: Error) => {
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
