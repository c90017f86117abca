import { expect } from "chai";
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { normalizeSave } from "../init/save";
import { REPO_ROOT, tsNode } from "../testing/addon";
import { NetnsLab } from "../testing/netns";
import { PROXY_UID, TwoPods, waitHttp } from "../testing/pods";
import { initIn, requireNetns } from "../testing/support";

const BIN = path.join(REPO_ROOT, "dist/weft-proxy");

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (/\.(ts|c)$/.test(e.name) && !e.name.endsWith(".test.ts"))
      newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** make sea when the binary is missing or older than the proxy's sources. */
function ensureSea(): void {
  const stale =
    !fs.existsSync(BIN) || fs.statSync(BIN).mtimeMs < newestSource(path.join(REPO_ROOT, "proxy"));
  if (stale)
    execFileSync("bash", [path.join(REPO_ROOT, "proxy/sea/build.sh")], {
      stdio: ["ignore", "ignore", "inherit"],
    });
}

function run(
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { env, timeout: 10_000 }, (err, stdout) => {
      resolve({
        code: err ? Number((err as { code?: number }).code ?? 1) : 0,
        stdout: String(stdout),
      });
    });
  });
}

describe("the SEA binary (dist/weft-proxy)", function () {
  this.timeout(60_000);
  const lab = new NetnsLab();
  let lone: string;

  before(async function () {
    this.timeout(120_000);
    await requireNetns(this);
    ensureSea();
    // Alone in a directory: nothing but the binary itself can supply the addon.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weft-test-sea-"));
    fs.chmodSync(dir, 0o755);
    lone = path.join(dir, "weft-proxy");
    fs.copyFileSync(BIN, lone);
    fs.chmodSync(lone, 0o755);
  });
  after(async () => {
    await lab.cleanup();
    if (lone) fs.rmSync(path.dirname(lone), { recursive: true, force: true });
  });

  it("runs `init --simulate` with no Node on PATH and prints the rules", async () => {
    const r = await run(lone, ["init", "--simulate"], { PATH: "/nonexistent" });
    expect(r.code).to.equal(0);
    expect(r.stdout).to.contain("iptables -t nat -A PREROUTING -j PROXY_INIT_REDIRECT");
    expect(r.stdout).to.contain("-j REDIRECT --to-ports 4140");
  });

  it("`init` installs the rules in a namespace; a second run and `--cleanup` behave", async () => {
    const ns = await lab.create("sea-init");
    const save = async (): Promise<string> =>
      normalizeSave(await ns.mustExec("iptables-save", ["-t", "nat"]));
    const before = await save();
    await ns.mustExec(lone, ["init", "--outbound-ports-to-ignore", "443"]);
    const installed = await save();
    expect(installed).to.contain("-j REDIRECT --to-ports 4143").and.contain("--dports 443");
    await ns.mustExec(lone, ["init", "--outbound-ports-to-ignore", "443"]);
    expect(await save()).to.equal(installed);
    await ns.mustExec(lone, ["init", "--cleanup"]);
    expect(await save()).to.equal(before);
  });

  it("starts with no Node on PATH and answers /live (start-up and idle memory printed)", async () => {
    const ns = await lab.create("sea");
    const [cmd, args] = tsNode(path.join(__dirname, "measure-cli.ts"), lone, "3");
    const out = await ns.mustExec(cmd, args);
    const m = JSON.parse(out) as { startMs: number; rssKb: number; rssAnonKb: number };
    console.log(
      `      SEA start to /live ${m.startMs.toFixed(0)} ms, idle RSS ${(m.rssKb / 1024).toFixed(1)} MB, RssAnon ${(m.rssAnonKb / 1024).toFixed(1)} MB`,
    );
    expect(m.startMs).to.be.above(0);
    expect(m.rssAnonKb).to.be.above(0).and.below(m.rssKb);
  });

  it("intercepts with its embedded addon: a redirected request reaches the app", async () => {
    const pods = new TwoPods();
    try {
      await pods.setUp();
      await pods.startApp();
      expect((await initIn(pods.app, [])).code).to.equal(0);
      const proxy = pods.app.spawn(lone, [], {
        uid: PROXY_UID,
        env: { PATH: "/nonexistent", WEFT_PROXY_IDENTITY_DISABLED: "true", WEFT_PROXY_LOG: "warn" },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      proxy.stderr?.on("data", (d) => (stderr += d));
      await waitHttp(pods.app, "http://127.0.0.1:4191/ready");
      // The client pod has no proxy: only the app pod's inbound rules and the SEA are in the path.
      await waitHttp(pods.client, `http://${pods.link.a}:8080/hello`, 5000);
      expect(stderr).to.not.contain("cannot intercept");
    } finally {
      await pods.tearDown();
    }
  });
});
