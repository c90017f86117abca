// Reads of the plaintext upstream sockets the proxy opens itself. Node's own read path allocates
// 64 KiB for every read, then a zero-filled copy of what was read; here the kernel writes straight
// into a slab of the socket's own, and each read is handed on as a slice of it. A slice is never
// written again (the next read goes after it, a full slab is replaced), so the engine may keep
// slices as long as it likes; the slab is freed with the last of them.

import * as net from "node:net";

const SLAB_SIZE = 64 * 1024;
/** A read gets at least this much room: a 16 KiB body and its head arrive in one read. */
const MIN_ROOM = 20 * 1024;

class ReadSlab {
  private slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
  private used = 0;

  /** Where the next read goes: the rest of the slab, or a new one when little is left. */
  room(): Buffer {
    if (this.slab.length - this.used < MIN_ROOM) {
      this.slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
      this.used = 0;
    }
    return this.slab.subarray(this.used);
  }

  /** The `n` bytes just read into `room`, as a slice that stays theirs. */
  take(room: Uint8Array, n: number): Buffer {
    this.used += n;
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
