import { expect } from "chai";
import * as crypto from "node:crypto";
import * as net from "node:net";
import { ReadSlab, connectWithSlabReads, readsReleased } from "./reads";

/**
 * A loopback server that writes `data` in pieces of varied size (up to `piece`), then ends; `paced`:
 * one piece per turn of its event loop.
 */
async function sender(
  data: Buffer,
  piece = 40_000,
  paced = false,
): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((s) => {
    let at = 0;
    const next = (): void => {
      while (at < data.length) {
        const n = 1 + ((at * 7919) % piece);
        const ok = s.write(data.subarray(at, at + n));
        at += n;
        if (!ok) return void s.once("drain", next);
        if (paced) return void setTimeout(next, 0);
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

describe("slab reads released by their reader", () => {
  it("read into one slab again and again when each chunk is let go as it is delivered", async () => {
    const data = crypto.randomBytes(4 * 1024 * 1024);
    const { server, port } = await sender(data);
    const socket = connectWithSlabReads("127.0.0.1", port);
    const hash = crypto.createHash("sha256");
    const slabs = new Set<ArrayBufferLike>();
    let chunks = 0;
    socket.on("data", (c: Buffer) => {
      hash.update(c);
      slabs.add(c.buffer);
      chunks++;
      readsReleased(socket);
    });
    await new Promise((r) => socket.on("end", r));
    server.close();
    expect(hash.digest("hex")).to.equal(crypto.createHash("sha256").update(data).digest("hex"));
    // Only the growth from 8 KiB to 64 KiB slabs allocates.
    expect(chunks).to.be.greaterThan(50);
    expect(slabs.size).to.be.at.most(4);
  });

  it("never reads over a chunk that was not released, though later ones were", async () => {
    // Small writes, one per turn of the sender's loop: reads much smaller than their room.
    const data = crypto.randomBytes(400 * 1024);
    const { server, port } = await sender(data, 3000, true);
    const socket = connectWithSlabReads("127.0.0.1", port);
    const kept: { at: number; chunk: Buffer }[] = [];
    let at = 0;
    let n = 0;
    socket.on("data", (c: Buffer) => {
      // Every third chunk is kept; the others are done with as they come, and say so.
      if (n++ % 3 === 0) kept.push({ at, chunk: c });
      else readsReleased(socket);
      at += c.length;
    });
    await new Promise((r) => socket.on("end", r));
    server.close();
    expect(at).to.equal(data.length);
    expect(kept.length).to.be.greaterThan(5);
    // Compared only now: a kept chunk whose memory was read into again would differ.
    for (const k of kept)
      expect(k.chunk.equals(data.subarray(k.at, k.at + k.chunk.length))).to.equal(true);
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

describe("read slab reuse", () => {
  /** The readable side of a socket, as deliver() sees it: push, and what is left buffered. */
  function readable(
    onPush: (c: Buffer) => void,
    buffered = 0,
  ): { push(c: Buffer): boolean; readableLength: number } {
    return { push: (c) => (onPush(c), true), readableLength: buffered };
  }

  it("starts over at the slab's beginning after a released delivery", () => {
    const slab = new ReadSlab();
    const room = slab.room();
    const sock = readable(() => slab.release());
    slab.deliver(sock as never, room, 100);
    const next = slab.room();
    expect(next.buffer).to.equal(room.buffer);
    expect(next.byteOffset).to.equal(room.byteOffset);
  });

  it("goes on after the last slice when the delivery was not released, and pins the slab", () => {
    const slab = new ReadSlab();
    const room = slab.room();
    slab.deliver(readable(() => undefined) as never, room, 100);
    const next = slab.room();
    expect(next.byteOffset).to.equal(room.byteOffset + 100);
    // Released later deliveries do not bring the pinned slab back to its start.
    slab.deliver(readable(() => slab.release()) as never, next, 100);
    expect(slab.room().byteOffset).to.equal(room.byteOffset + 200);
  });

  it("does not start over while a slice is still buffered in the socket", () => {
    const slab = new ReadSlab();
    const room = slab.room();
    slab.deliver(readable(() => slab.release(), 100) as never, room, 100);
    expect(slab.room().byteOffset).to.equal(room.byteOffset + 100);
  });

  it("ignores a release that comes outside a delivery", () => {
    const slab = new ReadSlab();
    const room = slab.room();
    slab.release();
    slab.deliver(readable(() => undefined) as never, room, 100);
    expect(slab.room().byteOffset).to.equal(room.byteOffset + 100);
  });
});
