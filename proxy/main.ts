// The weft-proxy executable: `weft-proxy` runs the proxy; `weft-proxy init ...` runs proxy-init.

import { ConfigError, loadConfig } from "./config";
import { resolverFromConfig } from "./discovery/resolver";
import { describe, startProxy } from "./proxy";

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
  const proxy = await startProxy(config, { resolver: resolverFromConfig(config) });
  process.stdout.write(`weft-proxy: listening ${describe(proxy)}\n`);
  process.on("SIGTERM", () => void proxy.drain());
  process.on("SIGINT", () => void proxy.drain());
  await proxy.done;
  return 0;
}

async function runInit(argv: string[]): Promise<number> {
  // Loaded only for `init`, so the proxy itself never pulls in proxy-init.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cli = require("./init/cli") as { runInit(argv: string[]): Promise<number> };
  return cli.runInit(argv);
}

async function main(argv: string[]): Promise<number> {
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
