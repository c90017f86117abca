import { expect } from "chai";
import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { crload, parseCrload } from "../proxy/load";

const run = promisify(execFile);

/** A local server on an ephemeral port; `handle` sees each request with its 1-based number. */
async function serve(
  handle: (n: number, req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<{ url: string; close: () => Promise<void> }> {
  let n = 0;
  const server = http.createServer((req, res) => handle(++n, req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Every 10th response 50 ms late, the others at once. */
function slowTenth(n: number, _req: http.IncomingMessage, res: http.ServerResponse): void {
  if (n % 10 === 0) setTimeout(() => res.end("late\n"), 50);
  else res.end("hello\n");
}

describe("crload, the constant-rate load generator", function () {
  this.timeout(30_000);
  const compiler = process.env.CC ?? "cc";
  let dir = "";
  let bin = "";

  before(async function () {
    if (spawnSync("sh", ["-c", `command -v "${compiler}"`]).status !== 0) {
      console.log(`      skipped: no C compiler (${compiler}) to build bench/loadgen/crload.c`);
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "weft-crload-"));
    bin = path.join(dir, "crload");
    const { stderr } = await run("bash", [path.join(__dirname, "build.sh"), bin]);
    expect(stderr, "compiler warnings").to.not.match(/warning/);
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("holds 200 requests/s and shows the slow tenth at p99, the fast rest at p50", async () => {
    const srv = await serve(slowTenth);
    try {
      // 2 s in all: the warm-up second, then one measured second.
      const lat = await crload(bin, srv.url, 200, 1);
      expect(lat.achieved).to.be.within(190, 210);
      expect(lat.errors).to.equal(0);
      expect(lat.p50).to.be.below(10);
      expect(lat.p99).to.be.at.least(45);
    } finally {
      await srv.close();
    }
  });

  it("counts the wait of a request queued behind a slow one, from its due time", async () => {
    const srv = await serve(slowTenth);
    try {
      // One connection: the ~10 requests due during each 50 ms stall wait for it. Latency from
      // the send time would leave p50 near zero (coordinated omission).
      const { stdout } = await run(bin, [
        "--rate=200",
        "--duration=1.5",
        "--warm=0.5",
        "--max-conns=1",
        srv.url,
      ]);
      const lat = parseCrload(stdout);
      expect(lat.errors).to.equal(0);
      expect(lat.p50).to.be.at.least(10);
    } finally {
      await srv.close();
    }
  });

  it("counts a request whose connection the server closes as an error, and goes on", async () => {
    let dropped = 0;
    const srv = await serve((n, req, res) => {
      if (n % 4 !== 0) return void res.end("hello\n");
      dropped++;
      req.socket.destroy();
    });
    try {
      const { stdout } = await run(bin, ["--rate=100", "--duration=1", "--warm=0", srv.url]);
      const out = JSON.parse(stdout) as Record<string, number>;
      expect(dropped).to.be.at.least(20);
      expect(out.errors).to.equal(dropped);
      expect(out.socketErrors).to.equal(dropped);
      expect(out.responses).to.equal(100 - dropped);
    } finally {
      await srv.close();
    }
  });

  it("reads chunked bodies, and a close after a complete response is no error", async () => {
    const srv = await serve((n, _req, res) => {
      if (n % 2 === 0) res.setHeader("Connection", "close");
      res.write("chunked, ");
      setImmediate(() => res.end("in two\n"));
    });
    try {
      const { stdout } = await run(bin, ["--rate=100", "--duration=0.5", "--warm=0", srv.url]);
      const out = JSON.parse(stdout) as Record<string, number>;
      expect(out).to.include({ requests: 50, responses: 50, errors: 0 });
      expect(out.conns).to.be.at.least(25);
    } finally {
      await srv.close();
    }
  });

  it("stops at --duration plus --timeout when nothing answers, every request an error", async () => {
    const srv = await serve(() => undefined);
    try {
      const t0 = Date.now();
      const { stdout } = await run(bin, ["--rate=20", "--duration=1", "--timeout=1", srv.url]);
      const out = JSON.parse(stdout) as Record<string, number>;
      expect(Date.now() - t0).to.be.below(3000);
      expect(out).to.include({ requests: 20, responses: 0, errors: 20, timeouts: 20 });
    } finally {
      await srv.close();
    }
  });
});
