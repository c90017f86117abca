import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ensureAddon, REPO_ROOT, tsNode } from "./addon";
import { Agent } from "./agent";
import { NetnsLab, type Netns, type PodLink } from "./netns";
import { initIn } from "./support";

export const PROXY_UID = 2102;

/** Resolves on the first stdout line containing `line`; rejects on exit or after `ms`. */
export function waitForLine(child: ChildProcess, line: string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(
      () => reject(new Error(`no '${line}' within ${ms} ms: ${buf.slice(-500)}`)),
      ms,
    );
    const onExit = (code: number | null): void =>
      reject(new Error(`exited (${code}) before '${line}'`));
    child.stdout?.on("data", (d) => {
      buf += d;
      if (!buf.includes(line)) return;
      clearTimeout(timer);
      child.removeListener("exit", onExit);
      resolve();
    });
    child.once("exit", onExit);
  });
}

const WAIT_HTTP = `
const [url, ms] = process.argv.slice(1);
const until = Date.now() + Number(ms);
const tick = () => require("http").get(url, { timeout: 500 }, (r) => {
  r.resume();
  if (r.statusCode === 200) process.exit(0); else retry();
}).on("error", retry);
const retry = () => Date.now() > until ? process.exit(1) : setTimeout(tick, 20);
tick();
`;

/** Polls `url` from inside `ns` until it answers 200. */
export async function waitHttp(ns: Netns, url: string, ms = 10_000): Promise<void> {
  const r = await ns.exec(process.execPath, ["-e", WAIT_HTTP, url, `${ms}`], ms + 5000);
  if (r.code !== 0) throw new Error(`${url} in ${ns.name} did not answer 200 within ${ms} ms`);
}

/**
 * The proxy as shipped, minus the SEA wrapping: an esbuild bundle of proxy/main.ts with the
 * addon beside it, in a directory the proxy's uid can read.
 */
export async function buildProxyBundle(): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require("esbuild") as typeof import("esbuild");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weft-test-bundle-"));
  process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  fs.chmodSync(dir, 0o755);
  const outfile = path.join(dir, "weft-proxy.cjs");
  await esbuild.build({
    entryPoints: [path.join(REPO_ROOT, "proxy/main.ts")],
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    outfile,
    logLevel: "error",
  });
  fs.mkdirSync(path.join(dir, "native"), { mode: 0o755 });
  fs.copyFileSync(ensureAddon(), path.join(dir, "native/original_dst.node"));
  return outfile;
}

export interface ProxyProcess {
  child: ChildProcess;
  stderr: () => string;
}

/** Two pods joined by a veth; each gets proxy-init's rules and a proxy running as uid 2102. */
export class TwoPods {
  readonly lab = new NetnsLab();
  app!: Netns;
  client!: Netns;
  link!: PodLink;
  agent!: Agent;
  readonly proxies = new Map<Netns, ProxyProcess>();

  async setUp(): Promise<void> {
    this.app = await this.lab.create("app");
    this.client = await this.lab.create("client");
    this.link = await this.lab.link(this.app, this.client);
  }

  async startApp(): Promise<void> {
    const [cmd, args] = tsNode(path.join(__dirname, "fixtures/app-servers.ts"));
    const child = this.app.spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
    await waitForLine(child, "ready", 20_000);
  }

  async startAgent(): Promise<void> {
    const [cmd, args] = tsNode(path.join(__dirname, "fixtures/client-agent.ts"), this.link.a);
    const child = this.client.spawn(cmd, args, { stdio: ["pipe", "pipe", "inherit"] });
    await waitForLine(child, "ready", 20_000);
    this.agent = new Agent(child);
  }

  async mesh(
    ns: Netns,
    bundle: string,
    env: Record<string, string> = {},
    initArgs: string[] = [],
  ): Promise<ProxyProcess> {
    const init = await initIn(ns, initArgs);
    if (init.code !== 0) throw new Error(`proxy-init failed in ${ns.name}: ${init.err.join("\n")}`);
    const proxy = this.startProxy(ns, bundle, env);
    await waitHttp(ns, "http://127.0.0.1:4191/ready").catch((e: Error) => {
      throw new Error(`${e.message}; proxy stderr: ${proxy.stderr().slice(-2000)}`);
    });
    return proxy;
  }

  startProxy(ns: Netns, bundle: string, env: Record<string, string>): ProxyProcess {
    const child = ns.spawn(process.execPath, [bundle], {
      uid: PROXY_UID,
      env: {
        PATH: "/usr/bin:/bin",
        WEFT_PROXY_IDENTITY_DISABLED: "true",
        WEFT_PROXY_LOG: "warn",
        ...env,
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (d) => (stderr = (stderr + d).slice(-20_000)));
    const p = { child, stderr: () => stderr };
    this.proxies.set(ns, p);
    return p;
  }

  async tearDown(): Promise<void> {
    await this.lab.cleanup();
  }
}
