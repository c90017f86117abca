import { expect } from "chai";
import { fetchIn, metricSum } from "./fetch";
import type { Netns } from "./netns";
import { buildProxyBundle, TwoPods, waitForLine } from "./pods";
import { requireNetns } from "./support";

// The app answers on loopback only (the inbound proxy forwards v6 to ::1, v4 to 127.0.0.1): a
// reply proves the request came through the inbound proxy.
const APP = `const h = (q, s) => s.end("via " + q.headers.host);
let n = 0;
const up = () => ++n === 2 && console.log("ready");
require("http").createServer(h).listen(8080, "::1", up);
require("http").createServer(h).listen(8080, "127.0.0.1", up);`;

/** The reason ip6tables' nat table cannot be used in `ns`, or undefined when it can. */
async function ip6NatMissing(ns: Netns): Promise<string | undefined> {
  const r = await ns.exec("ip6tables", ["-t", "nat", "-S"]);
  return r.code === 0 ? undefined : r.stderr.trim() || `ip6tables exited ${r.code}`;
}

describe("IPv6 through both meshed proxies (netns, real ip6tables, uid 2102)", function () {
  this.timeout(60_000);
  const pods = new TwoPods();

  before(async function () {
    this.timeout(90_000);
    await requireNetns(this);
    await pods.setUp();
    const missing = await ip6NatMissing(pods.app);
    if (missing !== undefined) {
      console.log(`      skipped: the kernel lacks ip6tables nat (${missing})`);
      this.skip();
    }
    const bundle = await buildProxyBundle();
    const app = pods.app.spawn(process.execPath, ["-e", APP], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await waitForLine(app, "ready", 10_000);
    await pods.mesh(pods.app, bundle, {}, ["--ipv6"]);
    await pods.mesh(pods.client, bundle, {}, ["--ipv6"]);
  });
  after(() => pods.tearDown());

  it("an IPv6 client reaches the other pod's IPv6 address through outbound [::1] and inbound [::]", async () => {
    const url = `http://[${pods.link.a6}]:8080/`;
    const r = await fetchIn(pods.client, url);
    expect(r).to.deep.equal({ status: 200, body: `via [${pods.link.a6}]:8080` });
    const out = (await fetchIn(pods.client, "http://127.0.0.1:4191/metrics")).body;
    const inb = (await fetchIn(pods.app, "http://127.0.0.1:4191/metrics")).body;
    const target = `[${pods.link.a6}]:8080`;
    expect(
      metricSum(out, "request_total", { direction: "outbound", target_addr: target }),
    ).to.equal(1);
    expect(metricSum(inb, "request_total", { direction: "inbound", target_addr: target })).to.equal(
      1,
    );
  });

  it("answers probes on the pod's IPv6 address (admin on [::]:4191 beside 0.0.0.0)", async () => {
    const live = await fetchIn(pods.client, `http://[${pods.link.a6}]:4191/live`);
    expect(live.status).to.equal(200);
    const ready = await fetchIn(pods.client, `http://[${pods.link.a6}]:4191/ready`);
    expect(ready.status).to.equal(200);
  });

  it("IPv4 still goes through the same proxies", async () => {
    const r = await fetchIn(pods.client, `http://${pods.link.a}:8080/`);
    expect(r).to.deep.equal({ status: 200, body: `via ${pods.link.a}:8080` });
  });
});

describe("a pod without IPv6 (netns, IPv6 disabled)", function () {
  this.timeout(60_000);
  const pods = new TwoPods();

  before(async function () {
    this.timeout(90_000);
    await requireNetns(this);
    await pods.setUp();
  });
  after(() => pods.tearDown());

  it("the proxy starts on IPv4, says once why it has no IPv6 listener, and serves", async () => {
    const ns = pods.app;
    await ns.mustExec("sysctl", ["-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
    await ns.mustExec("sysctl", ["-qw", "net.ipv6.conf.lo.disable_ipv6=1"]);
    const proxy = await pods.mesh(ns, await buildProxyBundle());
    expect((await fetchIn(ns, "http://127.0.0.1:4191/live")).status).to.equal(200);
    const warnings = proxy
      .stderr()
      .split("\n")
      .filter((l) => l.includes("IPv6 unavailable"));
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.contain("[::1]:4140");
  });
});
