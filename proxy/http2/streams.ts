// A session's open streams by id. Ids only grow and few streams are open at once, so a ring
// indexed by id finds a stream in one step and, unlike a Map under steady add-and-delete, does
// not reallocate its table as streams come and go. A stream whose slot is still held by an older
// one (a long-lived gRPC stream among short calls) goes to a small Map instead; the ring doubles
// only when that Map holds a good share of the streams.

interface HasId {
  readonly id: number;
}

const INITIAL_SLOTS = 64;

export class StreamTable<S extends HasId> {
  private slots: (S | undefined)[] = new Array<S | undefined>(INITIAL_SLOTS).fill(undefined);
  private mask = INITIAL_SLOTS - 1;
  private readonly overflow = new Map<number, S>();
  size = 0;

  get(id: number): S | undefined {
    const s = this.slots[(id >>> 1) & this.mask];
    if (s !== undefined && s.id === id) return s;
    return this.overflow.size === 0 ? undefined : this.overflow.get(id);
  }

  set(stream: S): void {
    this.size++;
    const at = (stream.id >>> 1) & this.mask;
    if (this.slots[at] === undefined) {
      this.slots[at] = stream;
      return;
    }
    this.overflow.set(stream.id, stream);
    if (this.overflow.size > this.slots.length / 4) this.grow();
  }

  delete(id: number): boolean {
    const at = (id >>> 1) & this.mask;
    const s = this.slots[at];
    if (s !== undefined && s.id === id) this.slots[at] = undefined;
    else if (!this.overflow.delete(id)) return false;
    this.size--;
    return true;
  }

  /** The open streams, as a new array (safe to change the table while going through it). */
  values(): S[] {
    const out: S[] = [];
    for (const s of this.slots) if (s !== undefined) out.push(s);
    for (const s of this.overflow.values()) out.push(s);
    return out;
  }

  private grow(): void {
    const all = this.values();
    this.slots = new Array<S | undefined>(this.slots.length * 2).fill(undefined);
    this.mask = this.slots.length - 1;
    this.overflow.clear();
    this.size = 0;
    for (const s of all) this.set(s);
  }
}
