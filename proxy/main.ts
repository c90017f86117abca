// The weft-proxy executable: `weft-proxy` runs the proxy; `weft-proxy init ...` runs proxy-init;
// `weft-proxy await` waits for the proxy's /ready (the injector's postStart hook).

import { ConfigError, loadConfig, type ProxyConfig } from "./config";
import { registerReadinessGate } from "./admin/readiness";
import type { ProxyIdentity } from "./identity/start";
import { ProxyMetrics } from "./metrics/metrics";
import { releaseStartupPages } from "./native/startup-pages";
import { describe, startProxy } from "./proxy";
import type { DiscoveryStack } from "./routes/stack";
import { noTls, type TlsSeam } from "./tls/seam";

export { startProxy } from "./proxy";
export type { ProxyOptions, RunningProxy } from "./proxy";

async function runProxy(): Promise<number> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`weft-proxy: ${err.message}\n`);
    return 2;
  }
  const metrics = new ProxyMetrics();
  const identity = await startIdentity(config, metrics);
  const tls = identity?.seam ?? noTls(config.identityDisabled);
  const discovery = startDiscovery(config, tls, metrics);
  const proxy = await startProxy(config, {
    resolver: discovery?.resolver,
    outboundHttp1: discovery?.outboundHttp1,
    tls,
    metrics,
  });
  process.stdout.write(`weft-proxy: listening ${describe(proxy)}\n`);
  // What start-up alone touched of the executable leaves the resident set (startup-pages.ts).
  const released = releaseStartupPages();
  if ("skipped" in released) proxy.log.debug("startup pages kept", { reason: released.skipped });
  else proxy.log.debug("startup pages released", released);
  process.on("SIGTERM", () => void proxy.drain());
  process.on("SIGINT", () => void proxy.drain());
  await proxy.done;
  discovery?.close();
  identity?.stop();
  return 0;
}

/**
 * The proxy's certificate from the identity service, and the mTLS seam built on it; /ready stays
 * 503 until the first certificate. Loaded only with identity on, like discovery.
 */
async function startIdentity(
  config: ProxyConfig,
  metrics: ProxyMetrics,
): Promise<ProxyIdentity | undefined> {
  if (config.identityDisabled) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const identity = require("./identity/start") as typeof import("./identity/start");
  return identity.startProxyIdentity(config, {
    registerGate: registerReadinessGate,
    registry: metrics.registry,
    log: (line) => process.stderr.write(`weft-proxy: ${line}\n`),
  });
}

/**
 * Discovery, routes and per-request balancing when a destination service is configured. Loaded
 * only then: its gRPC client is most of the bundle, and a proxy without discovery should not pay
 * for it at start or in memory; its HTTP/1 fast path stays as it is.
 */
function startDiscovery(
  config: ProxyConfig,
  tls: TlsSeam,
  metrics: ProxyMetrics,
): DiscoveryStack | undefined {
  if (config.destination.svcAddr === undefined) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const stack = require("./routes/stack") as typeof import("./routes/stack");
  return stack.discoveryStack(config, { tls, metrics });
}

async function runInit(argv: string[]): Promise<number> {
  // Loaded only for `init`, so the proxy itself never pulls in proxy-init.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cli = require("./init/cli") as { runInit(argv: string[]): Promise<number> };
  return cli.runInit(argv);
}

async function runAwait(argv: string[]): Promise<number> {
  // Loaded only for `await`, like `init`.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cmd = require("./await/await") as typeof import("./await/await");
  return cmd.runAwait(argv);
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === "await") return runAwait(argv.slice(1));
  return argv[0] === "init" ? runInit(argv.slice(1)) : runProxy();
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(
        `weft-proxy: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
