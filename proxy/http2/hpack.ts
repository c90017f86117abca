// HPACK (RFC 7541) header compression for the HTTP/2 proxy: a decoder that validates every
// representation it reads, and an encoder that indexes what repeats so that a repeated request
// head costs a few octets.

import { HpackError, huffmanDecode, huffmanEncode, huffmanEncodedLength } from "./huffman";

export { HpackError };

/** A header list as flat pairs: [name0, value0, name1, value1, ...]; names lower-case. */
export type HeaderList = string[];

const DEFAULT_TABLE_SIZE = 4096;
const DEFAULT_MAX_LIST_SIZE = 65536;
/** RFC 7541 §4.1: every entry costs its name and value plus 32 octets. */
const ENTRY_OVERHEAD = 32;
/** Longer values are sent without indexing: they would flush the table for little gain. */
const MAX_INDEXED_VALUE = 512;
/** Integers above this are treated as hostile; no legitimate length or index comes close. */
const MAX_INTEGER = 0x7fffffff;

// RFC 7541 Appendix A; index 0 is unused so that the arrays are indexed like the wire.
// prettier-ignore
const STATIC_NAMES: readonly string[] = [
  "", ":authority", ":method", ":method", ":path", ":path", ":scheme", ":scheme", ":status",
  ":status", ":status", ":status", ":status", ":status", ":status", "accept-charset",
  "accept-encoding", "accept-language", "accept-ranges", "accept", "access-control-allow-origin",
  "age", "allow", "authorization", "cache-control", "content-disposition", "content-encoding",
  "content-language", "content-length", "content-location", "content-range", "content-type",
  "cookie", "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since",
  "if-none-match", "if-range", "if-unmodified-since", "last-modified", "link", "location",
  "max-forwards", "proxy-authenticate", "proxy-authorization", "range", "referer", "refresh",
  "retry-after", "server", "set-cookie", "strict-transport-security", "transfer-encoding",
  "user-agent", "vary", "via", "www-authenticate",
];
const STATIC_VALUE_OF: Readonly<Record<number, string>> = {
  2: "GET",
  3: "POST",
  4: "/",
  5: "/index.html",
  6: "http",
  7: "https",
  8: "200",
  9: "204",
  10: "206",
  11: "304",
  12: "400",
  13: "404",
  14: "500",
  16: "gzip, deflate",
};
const STATIC_VALUES: readonly string[] = STATIC_NAMES.map((_, i) => STATIC_VALUE_OF[i] ?? "");
const STATIC_COUNT = STATIC_NAMES.length - 1;

/**
 * Field lookups are keyed by name, then value: two Map probes on strings that already carry their
 * hash are several times cheaper than building a `name + "\0" + value` key per field.
 */
type FieldMap = Map<string, Map<string, number>>;

const STATIC_EXACT: FieldMap = new Map();
const STATIC_NAME = new Map<string, number>();
for (let i = STATIC_COUNT; i >= 1; i--) {
  // Walking backwards leaves the lowest index for each key.
  setField(STATIC_EXACT, STATIC_NAMES[i], STATIC_VALUES[i], i);
  STATIC_NAME.set(STATIC_NAMES[i], i);
}

function setField(map: FieldMap, name: string, value: string, n: number): void {
  const values = map.get(name);
  if (values === undefined) map.set(name, new Map([[value, n]]));
  else values.set(value, n);
}

/** Representation prefixes (RFC 7541 §6). */
const INDEXED = 0x80;
const INCREMENTAL = 0x40;
const SIZE_UPDATE = 0x20;
const NEVER_INDEXED = 0x10;
const WITHOUT_INDEXING = 0x00;
const HUFFMAN = 0x80;

interface Latin1Buffer extends Buffer {
  latin1Slice(start: number, end: number): string;
  latin1Write(s: string, offset: number): number;
}

/**
 * The dynamic table as a ring of names and values, newest first in HPACK order. Every insertion
 * gets an absolute number so that the encoder can keep maps that survive later insertions.
 */
class DynamicTable {
  private names: string[] = new Array<string>(16);
  private values: string[] = new Array<string>(16);
  private mask = 15;
  /** Ring slot of the next insertion. */
  private head = 0;
  length = 0;
  size = 0;
  /** Insertions so far; the newest entry has absolute number inserted - 1. */
  inserted = 0;

  constructor(public maxSize: number) {}

  /** The name of the entry at 0-based position `i`, newest first; i < length. */
  nameAt(i: number): string {
    return this.names[(this.head - 1 - i) & this.mask];
  }

  valueAt(i: number): string {
    return this.values[(this.head - 1 - i) & this.mask];
  }

  /** Adds an entry, evicting as RFC 7541 §4.4 says (an oversized entry empties the table). */
  add(name: string, value: string): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    this.evictUntil(this.maxSize - entrySize);
    if (entrySize > this.maxSize) return;
    if (this.length > this.mask) this.grow();
    this.names[this.head] = name;
    this.values[this.head] = value;
    this.head = (this.head + 1) & this.mask;
    this.length++;
    this.size += entrySize;
    this.inserted++;
  }

  resize(maxSize: number): void {
    this.maxSize = maxSize;
    this.evictUntil(maxSize);
  }

  /** Hook for the encoder's lookup maps; `absolute` is the evicted entry's insertion number. */
  protected evicted(_name: string, _value: string, _absolute: number): void {}

  private evictUntil(limit: number): void {
    while (this.length > 0 && this.size > limit) {
      const slot = (this.head - this.length) & this.mask;
      const name = this.names[slot];
      const value = this.values[slot];
      this.size -= name.length + value.length + ENTRY_OVERHEAD;
      this.evicted(name, value, this.inserted - this.length);
      this.names[slot] = this.values[slot] = "";
      this.length--;
    }
  }

  private grow(): void {
    const capacity = (this.mask + 1) * 2;
    const names = new Array<string>(capacity);
    const values = new Array<string>(capacity);
    for (let i = 0; i < this.length; i++) {
      names[this.length - 1 - i] = this.nameAt(i);
      values[this.length - 1 - i] = this.valueAt(i);
    }
    this.names = names;
    this.values = values;
    this.head = this.length;
    this.mask = capacity - 1;
  }
}

export class HpackDecoder {
  private readonly table: DynamicTable;
  private readonly maxTableSize: number;
  private readonly maxListSize: number;
  /** Read position in the block being decoded; a field so that readers return one number. */
  private pos = 0;
  private block: Latin1Buffer = Buffer.alloc(0) as Latin1Buffer;

  /** maxTableSize: the SETTINGS_HEADER_TABLE_SIZE we announced; maxListSize: RFC 9113 §6.5.2. */
  constructor(maxTableSize = DEFAULT_TABLE_SIZE, maxListSize = DEFAULT_MAX_LIST_SIZE) {
    this.maxTableSize = maxTableSize;
    this.maxListSize = maxListSize;
    this.table = new DynamicTable(maxTableSize);
  }

  /** The dynamic table's size in RFC 7541 §4.1 octets. */
  get dynamicTableSize(): number {
    return this.table.size;
  }

  get dynamicTableLength(): number {
    return this.table.length;
  }

  /** Decodes one complete header block; throws HpackError on anything malformed. */
  decode(block: Uint8Array): HeaderList {
    this.block = toBuffer(block);
    this.pos = 0;
    const headers: HeaderList = [];
    let listSize = 0;
    while (this.pos < block.length) {
      const first = block[this.pos];
      if ((first & 0xe0) === SIZE_UPDATE) {
        if (headers.length > 0) throw new HpackError("table size update after a header field");
        this.readSizeUpdate();
        continue;
      }
      this.readField(first, headers);
      const last = headers.length;
      listSize += headers[last - 2].length + headers[last - 1].length + ENTRY_OVERHEAD;
      if (listSize > this.maxListSize) throw new HpackError("header list too large");
    }
    this.block = EMPTY;
    return headers;
  }

  private readField(first: number, headers: HeaderList): void {
    if (first & INDEXED) {
      const index = this.readInteger(7);
      headers.push(this.nameAt(index), this.valueAt(index));
      return;
    }
    const incremental = (first & INCREMENTAL) !== 0;
    const nameIndex = this.readInteger(incremental ? 6 : 4);
    const name = nameIndex === 0 ? this.readString() : this.nameAt(nameIndex);
    const value = this.readString();
    if (incremental) this.table.add(name, value);
    headers.push(name, value);
  }

  private readSizeUpdate(): void {
    const size = this.readInteger(5);
    if (size > this.maxTableSize) throw new HpackError("table size update above our limit");
    this.table.resize(size);
  }

  private nameAt(index: number): string {
    if (index >= 1 && index <= STATIC_COUNT) return STATIC_NAMES[index];
    return this.table.nameAt(this.dynamicPosition(index));
  }

  private valueAt(index: number): string {
    if (index >= 1 && index <= STATIC_COUNT) return STATIC_VALUES[index];
    return this.table.valueAt(this.dynamicPosition(index));
  }

  private dynamicPosition(index: number): number {
    const position = index - STATIC_COUNT - 1;
    if (position < 0 || position >= this.table.length) {
      throw new HpackError(`header index ${index} out of range`);
    }
    return position;
  }

  /** RFC 7541 §5.1, with the prefix in the low `prefixBits` bits of the current octet. */
  private readInteger(prefixBits: number): number {
    const block = this.block;
    const limit = (1 << prefixBits) - 1;
    let value = block[this.pos++] & limit;
    if (value < limit) return value;
    let scale = 1;
    let octet: number;
    do {
      if (this.pos >= block.length) throw new HpackError("truncated integer");
      octet = block[this.pos++];
      value += (octet & 0x7f) * scale;
      scale *= 128;
      if (value > MAX_INTEGER || scale > 2 ** 35) throw new HpackError("integer overflow");
    } while (octet & 0x80);
    return value;
  }

  /** RFC 7541 §5.2. */
  private readString(): string {
    const block = this.block;
    if (this.pos >= block.length) throw new HpackError("truncated string");
    const huffman = (block[this.pos] & HUFFMAN) !== 0;
    const length = this.readInteger(7);
    const start = this.pos;
    const end = start + length;
    if (end > block.length) throw new HpackError("truncated string");
    this.pos = end;
    return huffman ? huffmanDecode(block, start, end) : block.latin1Slice(start, end);
  }
}

const EMPTY = Buffer.alloc(0) as Latin1Buffer;

function toBuffer(block: Uint8Array): Latin1Buffer {
  const buffer = Buffer.isBuffer(block)
    ? block
    : Buffer.from(block.buffer, block.byteOffset, block.byteLength);
  return buffer as Latin1Buffer;
}

/** The encoder's table also maps (name, value) and name to the newest insertion number. */
class EncoderTable extends DynamicTable {
  readonly exact: FieldMap = new Map();
  readonly byName = new Map<string, number>();

  addIndexed(name: string, value: string): void {
    // The caller sends only entries that fit, so this one is stored.
    this.add(name, value);
    setField(this.exact, name, value, this.inserted - 1);
    this.byName.set(name, this.inserted - 1);
  }

  /** The HPACK index of an insertion number from the maps. */
  indexOf(absolute: number): number {
    return STATIC_COUNT + this.inserted - absolute;
  }

  protected override evicted(name: string, value: string, absolute: number): void {
    // A newer copy of the same field or name owns the map slot: leave it.
    const values = this.exact.get(name)!;
    if (values.get(value) === absolute) values.delete(value);
    if (values.size === 0) this.exact.delete(name);
    if (this.byName.get(name) === absolute) this.byName.delete(name);
  }
}

function isSensitive(name: string, value: string): boolean {
  switch (name) {
    case "authorization":
    case "proxy-authorization":
    case "set-cookie":
      return true;
    case "cookie":
      // Short cookies are guessable by probing the table (RFC 7541 §7.1.3).
      return value.length < 20;
    default:
      return false;
  }
}

export class HpackEncoder {
  private readonly table: EncoderTable;
  private readonly maxTableSize: number;
  /** Size updates owed to the peer: the smallest since the last block, then the final one. */
  private pendingMin = -1;
  private pendingFinal = -1;
  private out: Latin1Buffer = Buffer.allocUnsafe(1024) as Latin1Buffer;
  private pos = 0;

  constructor(maxTableSize = DEFAULT_TABLE_SIZE) {
    this.maxTableSize = maxTableSize;
    // The peer's decoder starts at 4096 (RFC 9113 §6.5.2); a smaller table must be announced.
    const initial = Math.min(maxTableSize, DEFAULT_TABLE_SIZE);
    this.table = new EncoderTable(initial);
    if (initial !== DEFAULT_TABLE_SIZE) this.pendingMin = this.pendingFinal = initial;
  }

  get dynamicTableSize(): number {
    return this.table.size;
  }

  get dynamicTableLength(): number {
    return this.table.length;
  }

  /** The peer's SETTINGS_HEADER_TABLE_SIZE; announced at the start of the next block. */
  setPeerTableSize(n: number): void {
    const size = Math.min(this.maxTableSize, n);
    this.pendingMin = this.pendingMin < 0 ? size : Math.min(this.pendingMin, size);
    this.pendingFinal = size;
    this.table.resize(size);
  }

  /** Encodes a header list (flat name/value pairs) into one header block. */
  encode(headers: readonly string[]): Buffer {
    const length = this.encodeShared(headers);
    return copyOut(this.out, length);
  }

  /**
   * As `encode`, into the encoder's own buffer (`shared`): returns the block's length; the bytes
   * are good until the next call.
   */
  encodeShared(headers: readonly string[]): number {
    this.pos = 0;
    this.writeSizeUpdates();
    for (let i = 0; i + 1 < headers.length; i += 2) {
      this.writeField(headers[i], headers[i + 1]);
    }
    return this.pos;
  }

  /** Where `encodeShared` leaves its block. */
  get shared(): Buffer {
    return this.out;
  }

  private writeSizeUpdates(): void {
    if (this.pendingFinal < 0) return;
    this.reserve(12);
    if (this.pendingMin < this.pendingFinal) this.writeInteger(SIZE_UPDATE, 5, this.pendingMin);
    this.writeInteger(SIZE_UPDATE, 5, this.pendingFinal);
    this.pendingMin = this.pendingFinal = -1;
  }

  private writeField(name: string, value: string): void {
    this.reserve(16 + name.length + value.length);
    if (isSensitive(name, value)) {
      this.writeLiteral(NEVER_INDEXED, 4, name, value);
      return;
    }
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    if (value.length > MAX_INDEXED_VALUE || entrySize > this.table.maxSize) {
      this.writeLiteral(WITHOUT_INDEXING, 4, name, value);
      return;
    }
    const index = this.exactIndex(name, value);
    if (index > 0) {
      this.writeInteger(INDEXED, 7, index);
      return;
    }
    this.writeLiteral(INCREMENTAL, 6, name, value);
    this.table.addIndexed(name, value);
  }

  private exactIndex(name: string, value: string): number {
    const index = STATIC_EXACT.get(name)?.get(value);
    if (index !== undefined) return index;
    const absolute = this.table.exact.get(name)?.get(value);
    return absolute === undefined ? 0 : this.table.indexOf(absolute);
  }

  private nameIndex(name: string): number {
    const index = STATIC_NAME.get(name);
    if (index !== undefined) return index;
    const absolute = this.table.byName.get(name);
    return absolute === undefined ? 0 : this.table.indexOf(absolute);
  }

  private writeLiteral(pattern: number, prefixBits: number, name: string, value: string): void {
    const nameIndex = this.nameIndex(name);
    this.writeInteger(pattern, prefixBits, nameIndex);
    if (nameIndex === 0) this.writeString(name);
    this.writeString(value);
  }

  /** RFC 7541 §5.1: `value` in the low `prefixBits` bits of an octet starting with `pattern`. */
  private writeInteger(pattern: number, prefixBits: number, value: number): void {
    const out = this.out;
    const limit = (1 << prefixBits) - 1;
    if (value < limit) {
      out[this.pos++] = pattern | value;
      return;
    }
    out[this.pos++] = pattern | limit;
    let rest = value - limit;
    while (rest >= 128) {
      out[this.pos++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    out[this.pos++] = rest;
  }

  /** RFC 7541 §5.2, Huffman-coded only when that is shorter. */
  private writeString(s: string): void {
    const huffmanLength = huffmanEncodedLength(s);
    if (huffmanLength < s.length) {
      this.writeInteger(HUFFMAN, 7, huffmanLength);
      this.pos = huffmanEncode(s, this.out, this.pos);
      return;
    }
    this.writeInteger(0, 7, s.length);
    this.pos += this.out.latin1Write(s, this.pos);
  }

  /** Makes room for `extra` more octets after the current position. */
  private reserve(extra: number): void {
    if (this.pos + extra <= this.out.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.pos + extra));
    this.out.copy(grown, 0, 0, this.pos);
    this.out = grown as Latin1Buffer;
  }
}

/** A copy of out[0, length): a plain loop beats Buffer#copy's native call for short blocks. */
function copyOut(out: Buffer, length: number): Buffer {
  const block = Buffer.allocUnsafe(length);
  if (length > 64) {
    out.copy(block, 0, 0, length);
    return block;
  }
  for (let i = 0; i < length; i++) block[i] = out[i];
  return block;
}
