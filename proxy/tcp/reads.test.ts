import { expect } from "chai";
import * as crypto from "node:crypto";
import * as net from "node:net";
import { ReadSlab, connectWithSlabReads } from "./reads";

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

describe("read slab sizing", () => {
  it("gives more room after a read that filled it, up to 32 KiB, and never hands out a slice twice", () => {
    const slab = new ReadSlab();
    const rooms: number[] = [];
    const slices: Buffer[] = [];
    for (let i = 0; i < 6; i++) {
      const room = slab.room();
      rooms.push(room.length);
      room.fill(i, 0, room.length);
      slices.push(slab.take(room, room.length));
    }
    expect(rooms).to.deep.equal([8192, 16384, 32768, 65536, 65536, 65536]);
    slices.forEach((s, i) => expect(s.every((b) => b === i)).to.equal(true));
  });

  it("keeps a socket of small reads on an 8 KiB slab", () => {
    const slab = new ReadSlab();
    const first = slab.room();
    for (let i = 0; i < 20; i++) slab.take(slab.room(), 150);
    expect(first.buffer.byteLength).to.equal(8192);
    expect(slab.room().buffer.byteLength).to.equal(8192);
  });
});
