// Reads of the plaintext upstream sockets the proxy opens itself. Node's own read path allocates
// 64 KiB for every read, then a zero-filled copy of what was read; here the kernel writes straight
// into a slab of the socket's own, and each read is pushed on as a slice of it.
//
// A slice is never written again while anything may still hold it: the next read goes after it, a
// full slab is replaced, and the old one is freed with the last of its slices. Only when the
// reader says, during the delivery of a read, that it holds nothing it was given and that all it
// wrote from it has left the process (`readsReleased`) does the slab start over from its
// beginning, so a connection that is kept up with reads costs one slab rather than a stream of
// them waiting for the garbage collector. One delivery that is not released (the reader kept a
// slice, a write was queued, the socket was paused) pins the slab until it is replaced.
//
// The slab fits the socket's traffic: a read gets room for what the socket's reads have needed
// (starting at 4 KiB, doubling whenever a read fills its room, up to 32 KiB), in slabs of twice
// that. A connection that carries small responses holds 8 KiB, not 64.

import * as net from "node:net";

const MIN_WANT = 4 * 1024;
const MAX_WANT = 32 * 1024;

const SLAB = Symbol("weft.readSlab");

export class ReadSlab {
  private slab: Buffer | undefined;
  private used = 0;
  /** The room a read is given. */
  private want = MIN_WANT;
  /** Set by the reader while a read is delivered: it holds nothing of this slab any longer. */
  private released = false;
  /** Some slice of this slab may still be in use: it is never read into from the start again. */
  private pinned = false;

  /** Where the next read goes: the rest of the slab, or a new one when too little is left. */
  room(): Buffer {
    if (this.slab === undefined || this.slab.length - this.used < this.want) {
      this.slab = Buffer.allocUnsafeSlow(this.want * 2);
      this.used = 0;
      this.pinned = false;
    }
    return this.slab.subarray(this.used);
  }

  /** The `n` bytes just read into `room`, as a slice that stays theirs. */
  take(room: Uint8Array, n: number): Buffer {
    this.used += n;
    // A read that filled its room had more waiting behind it: later reads get more.
    if (n === room.length && this.want < MAX_WANT) this.want *= 2;
    return Buffer.from(room.buffer, room.byteOffset, n);
  }

  /** Pushes the `n` bytes just read into `room` to the socket's readable side; push's result. */
  deliver(socket: net.Socket, room: Uint8Array, n: number): boolean {
    this.released = false;
    const more = socket.push(this.take(room, n));
    // Released during the push means the reader got the slice synchronously and let it go; bytes
    // still buffered in the socket were not seen by it.
    if (this.released && !this.pinned && socket.readableLength === 0) this.used = 0;
    else this.pinned = true;
    this.released = false;
    return more;
  }

  /** The reader holds no slice it was given, and what it wrote from them has left the process. */
  release(): void {
    this.released = true;
  }
}

/**
 * `net.connect` whose reads land in a slab of the socket's own and are pushed to its readable side
 * as Node would push them: 'data', pause and backpressure work as usual. For plaintext only: a
 * TLS socket built on it reads the raw socket natively.
 */
export function connectWithSlabReads(host: string, port: number): net.Socket {
  const slab = new ReadSlab();
  const socket: net.Socket = net.connect({
    host,
    port,
    onread: {
      buffer: () => slab.room(),
      callback: (n: number, room: Uint8Array) => slab.deliver(socket, room, n),
    },
  });
  (socket as net.Socket & { [SLAB]?: ReadSlab })[SLAB] = slab;
  return socket;
}

/**
 * Called by a 'data' listener of `socket` while it handles a chunk, when neither that chunk nor any
 * earlier one is held anywhere any longer: not kept by the listener, and every byte written from
 * them already handed to the kernel (the destination's writableLength is 0). Lets the socket read
 * into the same memory again. A no-op for sockets that do not read into slabs.
 */
export function readsReleased(socket: net.Socket): void {
  (socket as net.Socket & { [SLAB]?: ReadSlab })[SLAB]?.release();
}
