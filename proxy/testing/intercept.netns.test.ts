import { expect } from "chai";
import type { ChildProcess } from "node:child_process";
import * as path from "node:path";
import { normalizeSave } from "../init/save";
import { ensureAddon, tsNode } from "./addon";
import { DIAL_SCRIPT } from "./fixtures/dial";
import { NetnsLab, type Netns, type PodLink } from "./netns";
import { initIn, requireNetns } from "./support";

async function natSave(ns: Netns, bin = "iptables-save"): Promise<string> {
  return normalizeSave(await ns.mustExec(bin, ["-t", "nat"]));
}

async function dial(ns: Netns, host: string, port: number, uid?: number): Promise<string> {
  const asUser =
    uid === undefined
      ? []
      : ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "--"];
  const [cmd, ...args] = [...asUser, process.execPath, "-e", DIAL_SCRIPT, host, `${port}`];
  const r = await ns.exec(cmd, args, 10_000);
  return r.stdout.trim();
}

function waitForLine(child: ChildProcess, line: string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`no '${line}' within ${ms} ms: ${buf}`)), ms);
    child.stdout?.on("data", (d) => {
      buf += d;
      if (buf.includes(line)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => reject(new Error(`exited ${code} before '${line}'`)));
  });
}

describe("proxy-init in a network namespace (real iptables)", function () {
  this.timeout(30_000);
  const lab = new NetnsLab();
  let ns: Netns;

  before(async function () {
    await requireNetns(this);
    ns = await lab.create("init");
  });
  after(() => lab.cleanup());

  it("installs commented chains, and a second run changes nothing (iptables-save)", async () => {
    const argv = [
      "--inbound-ports-to-ignore",
      "22,8000-8010",
      "--outbound-ports-to-ignore",
      "443",
      "--subnets-to-ignore",
      "10.9.0.0/16",
      "--ipv6",
    ];
    expect((await initIn(ns, argv)).code).to.equal(0);
    const first = await natSave(ns);
    const first6 = await natSave(ns, "ip6tables-save");
    expect((await initIn(ns, argv)).code).to.equal(0);
    expect(await natSave(ns)).to.equal(first);
    expect(await natSave(ns, "ip6tables-save")).to.equal(first6);

    const rules = first.split("\n").filter((l) => l.startsWith("-A "));
    expect(
      rules.every((l) => l.includes("--comment weft-init/") || l.includes('--comment "weft-init/')),
    ).to.equal(true);
    expect(rules.filter((l) => l.startsWith("-A PREROUTING"))).to.have.length(1);
    expect(rules.filter((l) => l.startsWith("-A OUTPUT"))).to.have.length(1);
    expect(first).to.match(
      /-A PROXY_INIT_REDIRECT -p tcp .*--dports 22,4190,4191,8000:8010 .*-j RETURN/,
    );
    expect(first).to.match(/-A PROXY_INIT_REDIRECT -s 10.9.0.0\/16 .*-j RETURN/);
    expect(first).to.match(/-A PROXY_INIT_OUTPUT -m owner --uid-owner 2102 .*-j RETURN/);
    expect(first).to.match(/-A PROXY_INIT_REDIRECT -p tcp .*-j REDIRECT --to-ports 4143/);
    expect(first).to.match(/-A PROXY_INIT_OUTPUT -p tcp .*-j REDIRECT --to-ports 4140/);
    expect(first6).to.match(/-A PROXY_INIT_OUTPUT -p tcp .*-j REDIRECT --to-ports 4140/);
  });

  it("re-running with other flags replaces the chain bodies, not the jumps", async () => {
    expect((await initIn(ns, ["--outbound-ports-to-ignore", "5432"])).code).to.equal(0);
    const save = await natSave(ns);
    expect(save).to.contain("--dports 5432").and.not.contain("--dports 443 ");
    expect(save.split("\n").filter((l) => l.startsWith("-A OUTPUT"))).to.have.length(1);
  });

  it("cleanup removes jumps then chains, keeps other rules, and is safe to repeat", async () => {
    await ns.mustExec("iptables", ["-t", "nat", "-A", "OUTPUT", "-p", "udp", "-j", "RETURN"]);
    const cleaned = await initIn(ns, ["--cleanup", "--ipv6"]);
    expect(cleaned.code, cleaned.err.join("\n")).to.equal(0);
    const save = await natSave(ns);
    expect(save).to.not.contain("PROXY_INIT");
    expect(save).to.contain("-A OUTPUT -p udp -j RETURN");
    expect(await natSave(ns, "ip6tables-save")).to.not.contain("PROXY_INIT");
    expect((await initIn(ns, ["--cleanup"])).code).to.equal(0);
  });
});

describe("SO_ORIGINAL_DST through proxy-init's rules (real iptables)", function () {
  this.timeout(30_000);
  const lab = new NetnsLab();
  let app: Netns;
  let client: Netns;
  let link: PodLink;

  before(async function () {
    await requireNetns(this);
    ensureAddon();
    app = await lab.create("app");
    client = await lab.create("client");
    link = await lab.link(app, client);
    expect((await initIn(app, ["--ipv6"])).code).to.equal(0);
    const [cmd, args] = tsNode(path.join(__dirname, "fixtures/orig-dst-server.ts"));
    const server = app.spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
    await waitForLine(server, "ready", 15_000);
    const echo = `require("net").createServer((s) => s.end("direct\\n")).listen(7070, "::")`;
    const direct = client.spawn(process.execPath, ["-e", `${echo}; console.log("ready")`], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await waitForLine(direct, "ready", 5000);
  });
  after(() => lab.cleanup());

  it("inbound IPv4: the pod address and port the client dialled, not 4143", async () => {
    const r = JSON.parse(await dial(client, link.a, 8080));
    expect(r.localPort).to.equal(4143);
    expect(r.original).to.deep.equal({ address: link.a, port: 8080, family: 4 });
  });

  it("inbound IPv6 (IP6T_SO_ORIGINAL_DST)", async () => {
    const r = JSON.parse(await dial(client, link.a6, 9090));
    expect(r.localPort).to.equal(4143);
    expect(r.original).to.deep.equal({ address: link.a6, port: 9090, family: 6 });
  });

  it("outbound: the app's connection to the other pod lands on 4140 with the remote address", async () => {
    const r = JSON.parse(await dial(app, link.b, 7070));
    expect(r.localPort).to.equal(4140);
    expect(r.original).to.deep.equal({ address: link.b, port: 7070, family: 4 });
    const r6 = JSON.parse(await dial(app, link.b6, 7070));
    expect(r6.original).to.deep.equal({ address: link.b6, port: 7070, family: 6 });
  });

  it("the proxy's uid 2102 goes out directly, and so do ignored inbound ports", async () => {
    expect(await dial(app, link.b, 7070, 2102)).to.equal("direct");
    const admin = JSON.parse(await dial(client, link.a, 4191));
    expect(admin.localPort).to.equal(4191);
  });
});
