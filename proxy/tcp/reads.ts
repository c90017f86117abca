// Reads of the plaintext upstream sockets the proxy opens itself. Node's own read path allocates
// 64 KiB for every read, then a zero-filled copy of what was read; here the kernel writes straight
// into a slab of the socket's own, and each read is pushed on as a slice of it. A slice is never
// written again (the next read goes after it, a full slab is replaced), so the engine may keep
// slices as long as it likes; the slab is freed with the last of them.
//
// The slab fits the socket's traffic: a read gets room for what the socket's reads have needed
// (starting at 4 KiB, doubling whenever a read fills its room, up to 32 KiB), in slabs of twice
// that. A connection that carries small responses holds 8 KiB, not 64.

import * as net from "node:net";

const MIN_WANT = 4 * 1024;
const MAX_WANT = 32 * 1024;

export class ReadSlab {
  private slab: Buffer | undefined;
  private used = 0;
  /** The room a read is given. */
  private want = MIN_WANT;

  /** Where the next read goes: the rest of the slab, or a new one when too little is left. */
  room(): Buffer {
    if (this.slab === undefined || this.slab.length - this.used < this.want) {
      this.slab = Buffer.allocUnsafeSlow(this.want * 2);
      this.used = 0;
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
      callback: (n: number, room: Uint8Array) => socket.push(slab.take(room, n)),
    },
  });
  return socket;
}
