// Bench-only: one Weft proxy hop with mTLS identity read from PEM files instead of the identity
// service, so the benchmark can measure a meshed pair without a control plane. The proxy itself is
// the one weft-proxy runs (startProxy, the same layers and the same HTTP/1 fast path); only where
// its certificate comes from and the outbound peer's identity differ. Bundled by the benchmark
// with esbuild like the SEA and run by the same node.
//
//   WEFT_BENCH_TLS_DIR       directory with <name>.key, <name>.crt (leaf) and ca.crt (trust anchor)
//   WEFT_BENCH_TLS_NAME      this proxy's identity (file base name and certificate DNS SAN)
//   WEFT_BENCH_PEER_IDENTITY outbound: the identity the fixed target must prove (mTLS to it)
// plus the usual WEFT_PROXY_* variables (fixed targets, listen addresses).
import * as fs from "node:fs";
import * as path from "node:path";
import { loadConfig } from "../../proxy/config";
import { ProxyMetrics } from "../../proxy/metrics/metrics";
import { releaseStartupPages } from "../../proxy/native/startup-pages";
import { describe, startProxy } from "../../proxy/proxy";
import { OriginalDestinationResolver, type Resolver } from "../../proxy/route/resolver";
import { MtlsCredentials, mtlsOriginator, mtlsTerminator } from "../../proxy/tls/mtls";
import { noTls, type TlsSeam } from "../../proxy/tls/seam";

function need(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === "") {
    process.stderr.write(`mtls-hop: ${name} is required (see bench/proxy/mtls-hop.ts)\n`);
    process.exit(2);
  }
  return v;
}

function credentials(): MtlsCredentials {
  const dir = need("WEFT_BENCH_TLS_DIR");
  const name = need("WEFT_BENCH_TLS_NAME");
  const read = (f: string): string => fs.readFileSync(path.join(dir, f), "utf8");
  return new MtlsCredentials({
    identity: name,
    keyPem: read(`${name}.key`),
    certChainPem: read(`${name}.crt`),
    anchorsPem: read("ca.crt"),
    validUntil: new Date(Date.now() + 86_400_000),
    serialNumber: "bench",
  });
}

/** The original destination, carrying the identity the peer must prove (what discovery gives). */
function withPeerIdentity(identity: string | undefined): Resolver {
  const base = new OriginalDestinationResolver();
  if (identity === undefined) return base;
  return {
    resolve: async (target) => {
      const set = await base.resolve(target);
      return { ...set, endpoints: set.endpoints.map((e) => ({ ...e, identity })) };
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const creds = credentials();
  const metrics = new ProxyMetrics();
  const seam: TlsSeam = {
    outbound: mtlsOriginator(creds),
    inbound: mtlsTerminator(creds, { onRefused: () => undefined }),
    plaintextLabels: noTls(false).plaintextLabels,
    refused: () => undefined,
  };
  const proxy = await startProxy(config, {
    tls: seam,
    metrics,
    resolver: withPeerIdentity(process.env.WEFT_BENCH_PEER_IDENTITY || undefined),
    // One resolution per connection, as weft-proxy without discovery: the same fast path.
    resolvePerRequest: false,
  });
  process.stdout.write(`weft-proxy (bench mTLS hop): listening ${describe(proxy)}\n`);
  // As weft-proxy does once listening (proxy/main.ts).
  releaseStartupPages();
  process.on("SIGTERM", () => void proxy.drain());
  await proxy.done;
  process.exit(0);
}

void main();
