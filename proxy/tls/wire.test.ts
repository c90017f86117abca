import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import * as http from "node:http";
import * as net from "node:net";
import path from "node:path";
import { MtlsCredentials, mtlsTerminator, originateTls } from "./mtls";
import { testCa } from "./test-pki";

const SRV = "srv.ns.serviceaccount.identity.weft-system.cluster.local";
const CLI = "cli.ns.serviceaccount.identity.weft-system.cluster.local";
const MARKER = "weft-secret-marker-7f3a";

/** Captures the loopback bytes of `port` while `traffic` runs. */
async function capture(port: number, traffic: () => Promise<void>): Promise<Buffer> {
  const child = spawn("python3", [
    path.join(__dirname, "testing", "sniff.py"),
    String(port),
    "2.5",
  ]);
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`sniffer exited ${code}`)));
  });
  await traffic();
  await new Promise((r) => child.once("exit", r));
  return Buffer.from(out.replace(/^ready\s*/, "").trim(), "hex");
}

function request(sock: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        createConnection: () => sock,
        method: "POST",
        path: `/${MARKER}`,
        headers: { "x-marker": MARKER },
      },
      (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve(body));
      },
    );
    req.on("error", reject);
    req.end(MARKER);
  });
}

describe("what an observer of the wire sees (loopback capture)", function () {
  this.timeout(20_000);
  let server: net.Server;
  let port: number;
  let client: MtlsCredentials;

  before(async function () {
    const probe = spawnSync("python3", [
      "-c",
      "import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 3)",
    ]);
    if (probe.status !== 0) {
      console.log(
        `      skipped: no python3 with AF_PACKET capture (${String(probe.stderr ?? probe.error).trim()})`,
      );
      this.skip();
    }
    const ca = await testCa();
    const srv = new MtlsCredentials(await ca.issue(SRV));
    client = new MtlsCredentials(await ca.issue(CLI));
    const terminator = mtlsTerminator(srv);
    const app = http.createServer((req, res) =>
      req.resume().on("end", () => res.end(`echo ${req.url}`)),
    );
    server = net.createServer((raw) => {
      raw.once("data", (initial: Buffer) => {
        raw.pause();
        if (initial[0] !== 0x16) {
          raw.unshift(initial);
          app.emit("connection", raw);
          raw.resume();
          return;
        }
        terminator.terminate(raw, initial).then(
          (t) => (t ? app.emit("connection", t.socket) : raw.destroy()),
          () => raw.destroy(),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => server?.close());

  it("sees the request in plaintext without mTLS (the capture works)", async () => {
    const bytes = await capture(port, async () => {
      expect(await request(net.connect(port, "127.0.0.1"))).to.equal(`echo /${MARKER}`);
    });
    expect(bytes.includes(MARKER)).to.equal(true);
  });

  it("sees a TLS 1.3 handshake and encrypted records, and no plaintext, with mTLS", async () => {
    const bytes = await capture(port, async () => {
      const sock = originateTls(client, net.connect(port, "127.0.0.1"), SRV, ["http/1.1"]);
      expect(await request(sock)).to.equal(`echo /${MARKER}`);
    });
    expect(bytes.length).to.be.greaterThan(1000);
    expect(bytes.includes(Buffer.from([0x16, 0x03, 0x01])), "ClientHello record").to.equal(true);
    expect(bytes.includes(Buffer.from([0x17, 0x03, 0x03])), "application-data records").to.equal(
      true,
    );
    expect(bytes.includes(MARKER)).to.equal(false);
    expect(bytes.includes("HTTP/1.1")).to.equal(false);
  });
});
