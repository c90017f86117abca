// TLS sessions kept per peer proxy for resumption: a reconnect to a proxy resumes its last
// TLS 1.3 session (a ticket only that proxy can open) instead of a full handshake, which costs
// both sides a signature, a verification and a chain check. A peer is an address and the
// identity it proved: the same identity on another pod has other ticket keys.

/** At most this many peers are remembered (a ticket is ~1.5 KB); the oldest goes first. */
export const MAX_SESSIONS = 1024;

interface Kept {
  readonly session: Buffer;
  /** When the certificate the peer proved in the full handshake expires (ms since the epoch). */
  readonly notAfterMs: number;
}

export function sessionKey(address: string, identity: string): string {
  return `${address}|${identity}`;
}

export class TlsSessionCache {
  private readonly kept = new Map<string, Kept>();

  constructor(private readonly max = MAX_SESSIONS) {}

  get size(): number {
    return this.kept.size;
  }

  /** The session to offer `key`, unless the certificate it was verified with has expired. */
  get(key: string, nowMs: number): Buffer | undefined {
    const k = this.kept.get(key);
    if (k === undefined || k.notAfterMs > nowMs) return k?.session;
    this.kept.delete(key);
    return undefined;
  }

  set(key: string, session: Buffer, notAfterMs: number): void {
    this.kept.delete(key);
    this.kept.set(key, { session, notAfterMs });
    if (this.kept.size > this.max) this.kept.delete(this.kept.keys().next().value as string);
  }

  delete(key: string): void {
    this.kept.delete(key);
  }

  clear(): void {
    this.kept.clear();
  }
}
