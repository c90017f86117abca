import { expect } from "chai";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { ensureAddon } from "../testing/addon";
import { NativeAddonError } from "./errors";
import { addonCandidates, loadAddon } from "./load-addon";
import { interceptionAvailable, originalDestination, resetForTests } from "./original-dst";

async function pair(): Promise<{ server: net.Server; accepted: net.Socket; client: net.Socket }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => server.once("connection", r));
  const client = net.connect(port, "127.0.0.1");
  return { server, accepted: await accepted, client };
}

describe("original destination (native addon)", () => {
  before(() => {
    ensureAddon();
    resetForTests();
  });

  it("loads the addon and reports interception as available", () => {
    expect(interceptionAvailable()).to.deep.equal({ ok: true });
  });

  it("gives no original destination for a connection nobody redirected, or the real one", async () => {
    const { server, accepted, client } = await pair();
    const got = originalDestination(accepted);
    // Without a NAT record the kernel says ENOENT; with conntrack active it echoes the real address.
    if (got !== undefined) {
      expect(got).to.deep.equal({ address: "127.0.0.1", port: accepted.localPort, family: 4 });
    }
    client.destroy();
    accepted.destroy();
    server.close();
  });

  it("returns undefined for a destroyed socket (no fd)", async () => {
    const { server, accepted, client } = await pair();
    accepted.destroy();
    expect(originalDestination(accepted)).to.equal(undefined);
    client.destroy();
    server.close();
  });

  it("says why, and how to fix it, when the addon is missing", () => {
    let caught: unknown;
    try {
      loadAddon(["/nonexistent/original_dst.node"]);
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(NativeAddonError);
    expect((caught as NativeAddonError).code).to.equal("WEFT_ERR_NATIVE_ADDON");
    expect((caught as Error).message)
      .to.contain("not found in /nonexistent/original_dst.node")
      .and.contain("proxy/native/build.sh");
  });

  it("rejects a file that is not the addon, naming it", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weft-native-test-"));
    const bogus = path.join(dir, "original_dst.node");
    fs.writeFileSync(bogus, "not an ELF");
    try {
      expect(() => loadAddon([bogus])).to.throw(NativeAddonError, bogus);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("looks next to a bundle, in the repo's dist/ and next to the executable", () => {
    const c = addonCandidates("/opt/weft/dist", "/usr/local/bin/weft-proxy");
    expect(c).to.deep.equal([
      "/opt/weft/dist/native/original_dst.node",
      "/opt/weft/dist/original_dst.node",
      "/opt/dist/native/original_dst.node",
      "/usr/local/bin/native/original_dst.node",
    ]);
  });
});
