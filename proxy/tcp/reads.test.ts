import { expect } from "chai";
import * as crypto from "node:crypto";
import * as net from "node:net";
import { connectWithSlabReads } from "./reads";

/** A loopback server that writes `data` in pieces of varied size, then ends. */
async function sender(data: Buffer): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((s) => {
    let at = 0;
    const next = (): void => {
      while (at < data.length) {
        const n = 1 + ((at * 7919) % 40_000);
        const ok = s.write(data.subarray(at, at + n));
        at += n;
        if (!ok) return void s.once("drain", next);
      }
      s.end();
    };
    next();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

describe("slab reads of upstream sockets", () => {
  it("delivers every byte in order, and no later read overwrites a slice already handed on", async () => {
    const data = crypto.randomBytes(3 * 1024 * 1024);
    const { server, port } = await sender(data);
    const socket = connectWithSlabReads("127.0.0.1", port);
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    await new Promise((r) => socket.on("end", r));
    server.close();
    // Every slice is compared only now, after all reads: a reused region would show here.
    expect(Buffer.concat(chunks).equals(data)).to.equal(true);
    expect(chunks.length).to.be.greaterThan(10);
  });

  it("stops reading while paused and resumes where it left off", async () => {
    const data = crypto.randomBytes(8 * 1024 * 1024);
    const { server, port } = await sender(data);
    const socket = connectWithSlabReads("127.0.0.1", port);
    let received = 0;
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => {
      chunks.push(c);
      received += c.length;
      if (chunks.length === 5) socket.pause();
    });
    await new Promise((r) => setTimeout(r, 300));
    const whilePaused = received;
    await new Promise((r) => setTimeout(r, 200));
    expect(received).to.equal(whilePaused);
    expect(received).to.be.below(data.length);
    socket.resume();
    await new Promise((r) => socket.on("end", r));
    server.close();
    expect(Buffer.concat(chunks).equals(data)).to.equal(true);
  });
});
