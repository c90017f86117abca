// A session's outgoing bytes. Small frames are written back to back into a slab, so a turn of
// the event loop allocates one region instead of a Buffer per frame; a large DATA payload goes
// out as its own buffer, without a copy. Regions handed to the socket are never written again:
// the slab moves on, and a full one is replaced (the socket keeps the old one alive until sent).

/** A quiet connection keeps a small slab; a busy one's slabs double up to 64 KiB. */
const FIRST_SLAB = 4 * 1024;
const MAX_SLAB = 64 * 1024;

export class OutBuffer {
  slab: Buffer = Buffer.allocUnsafe(FIRST_SLAB);
  /** Where the current, not yet taken, region of the slab starts and ends. */
  private start = 0;
  private end = 0;
  private parts: Buffer[] = [];
  /** Bytes waiting, taken or not. */
  bytes = 0;

  /** Room for `n` bytes at the returned offset of `this.slab`; they count as written. */
  reserve(n: number): number {
    if (this.end + n > this.slab.length) {
      this.closeRegion();
      this.slab = Buffer.allocUnsafe(Math.max(Math.min(this.slab.length * 2, MAX_SLAB), n));
      this.start = 0;
      this.end = 0;
    }
    const at = this.end;
    this.end += n;
    this.bytes += n;
    return at;
  }

  /** A buffer that goes out as it is, after what was reserved so far. */
  append(buf: Buffer): void {
    this.closeRegion();
    this.parts.push(buf);
    this.bytes += buf.length;
  }

  get empty(): boolean {
    return this.bytes === 0;
  }

  /** Everything written so far, in order; the buffer starts over empty. */
  take(): Buffer[] {
    this.closeRegion();
    const parts = this.parts;
    this.parts = [];
    this.bytes = 0;
    return parts;
  }

  private closeRegion(): void {
    if (this.end === this.start) return;
    this.parts.push(this.slab.subarray(this.start, this.end));
    this.start = this.end;
  }
}
