// Reads the SNI of a TLS ClientHello from the first bytes of a connection (no handshake).

/** True when `buf` starts like a TLS handshake record carrying a ClientHello. */
export function looksLikeClientHello(buf: Buffer): boolean {
  return buf.length >= 6 && buf[0] === 0x16 && buf[1] === 0x03 && buf[5] === 0x01;
}

class Reader {
  constructor(
    private readonly buf: Buffer,
    public pos: number,
    private readonly end: number,
  ) {}

  ok(n: number): boolean {
    return this.pos + n <= this.end;
  }
  u8(): number {
    return this.buf[this.pos++];
  }
  u16(): number {
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  skip(n: number): void {
    this.pos += n;
  }
}

function skipVector(r: Reader, lenBytes: 1 | 2): boolean {
  if (!r.ok(lenBytes)) return false;
  const n = lenBytes === 1 ? r.u8() : r.u16();
  if (!r.ok(n)) return false;
  r.skip(n);
  return true;
}

function serverName(buf: Buffer, start: number, end: number): string | undefined {
  const r = new Reader(buf, start + 2, end); // server_name_list length
  if (!r.ok(3)) return undefined;
  const type = r.u8();
  const len = r.u16();
  if (type !== 0 || !r.ok(len)) return undefined;
  return buf.toString("latin1", r.pos, r.pos + len);
}

function findSni(r: Reader, buf: Buffer): string | undefined {
  if (!r.ok(2)) return undefined;
  const end = Math.min(r.pos + r.u16(), buf.length);
  for (let i = 0; i < 64 && r.pos + 4 <= end; i++) {
    const type = r.u16();
    const len = r.u16();
    if (type === 0) return serverName(buf, r.pos, Math.min(r.pos + len, end));
    r.skip(len);
  }
  return undefined;
}

/** The SNI of a ClientHello at the start of `buf`, or undefined (none, or not all of it read). */
export function parseClientHelloSni(buf: Buffer): string | undefined {
  if (!looksLikeClientHello(buf) || buf.length < 9) return undefined;
  const r = new Reader(buf, 9, buf.length); // record header (5) + handshake header (4)
  if (!r.ok(2 + 32)) return undefined;
  r.skip(2 + 32); // client_version, random
  if (!skipVector(r, 1) || !skipVector(r, 2) || !skipVector(r, 1)) return undefined; // session id, suites, compression
  return findSni(r, buf);
}
