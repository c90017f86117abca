// The mTLS part of the proxy benchmark: the bench-only Weft hop bundled like the SEA, the
// handshake counters of each inbound hop (how often the pair opened a TLS connection), and a loop
// of new TLS connections to an inbound hop (what one handshake costs it).
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import * as tls from "node:tls";
import { performance } from "node:perf_hooks";

/** esbuild's bundle of bench/proxy/mtls-hop.ts, the way proxy/sea/build.sh bundles the proxy. */
export async function bundleMtlsHop(dir: string): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require("esbuild") as typeof import("esbuild");
  const outfile = path.join(dir, "mtls-hop.cjs");
  await esbuild.build({
    entryPoints: [path.join(__dirname, "mtls-hop.ts")],
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    minifySyntax: true,
    minifyWhitespace: true,
    outfile,
    logLevel: "error",
  });
  return outfile;
}

export interface TlsCounts {
  /** TLS connections between the hops (each one a full handshake or a resumption). */
  handshakes: number;
  /** Requests the inbound hop served. */
  requests: number;
}

function getText(port: number, p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: p, agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve(body));
      })
      .on("error", reject);
  });
}

function sumLines(text: string, family: string, must: string[]): number {
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${family}{`) && must.every((m) => l.includes(m)))
    .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
}

/**
 * From the Weft hops' /metrics: TLS connections the outbound hop originated (each one a handshake
 * at the inbound hop) and requests the inbound hop served.
 */
export async function weftTlsCounts(inAdmin: number, outAdmin: number): Promise<TlsCounts> {
  const [inbound, outbound] = await Promise.all([
    getText(inAdmin, "/metrics"),
    getText(outAdmin, "/metrics"),
  ]);
  return {
    handshakes: sumLines(outbound, "tcp_open_total", [
      'direction="outbound"',
      'peer="dst"',
      'tls="true"',
    ]),
    requests: sumLines(inbound, "request_total", ['direction="inbound"']),
  };
}

/** From HAProxy's `show info` on its stats socket. */
export async function haproxyTlsCounts(socketPath: string): Promise<TlsCounts> {
  const info = await new Promise<string>((resolve, reject) => {
    let out = "";
    const s = net.connect(socketPath, () => s.end("show info\n"));
    s.setEncoding("utf8");
    s.on("data", (d: string) => (out += d));
    s.on("end", () => resolve(out));
    s.on("error", reject);
  });
  const field = (k: string): number => Number(new RegExp(`^${k}: (\\d+)`, "m").exec(info)?.[1]);
  return { handshakes: field("CumSslConns"), requests: field("CumReq") };
}

export interface Handshakes {
  count: number;
  /** Client-observed time of one new connection: TCP + TLS 1.3 handshake + one request. */
  msPerConn: number;
}

export interface LoopPeer {
  readonly port: number;
  readonly dir: string;
  /** The identity whose certificate the loop presents (the outbound hop's). */
  readonly clientName: string;
  /** The identity the inbound hop must prove (SNI and name check). */
  readonly serverName: string;
}

function oneConnection(peer: LoopPeer, ctx: tls.SecureContext, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: "127.0.0.1",
      port: peer.port,
      servername: peer.serverName,
      secureContext: ctx,
      ALPNProtocols: ["http/1.1"],
      minVersion: "TLSv1.3",
      // A fresh handshake every time: no session ticket is offered.
      session: undefined,
    });
    let got = "";
    s.setEncoding("latin1");
    s.on("secureConnect", () =>
      s.write(`GET ${path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n`),
    );
    s.on("data", (d: string) => (got += d));
    s.on("error", reject);
    s.on("close", () =>
      got.startsWith("HTTP/1.1 200") ? resolve() : reject(new Error(got.slice(0, 200))),
    );
  });
}

/** New mTLS connections one after another for `seconds` (bounded), one request on each. */
export async function handshakeLoop(peer: LoopPeer, seconds: number): Promise<Handshakes> {
  const read = (f: string): string => fs.readFileSync(path.join(peer.dir, f), "utf8");
  const ctx = tls.createSecureContext({
    key: read(`${peer.clientName}.key`),
    cert: read(`${peer.clientName}.crt`),
    ca: read("ca.crt"),
  });
  const start = performance.now();
  const until = start + seconds * 1000;
  let count = 0;
  while (performance.now() < until) {
    await oneConnection(peer, ctx, "/13");
    count++;
  }
  return { count, msPerConn: (performance.now() - start) / Math.max(1, count) };
}
