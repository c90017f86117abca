// The proxy's identity client: certify at start with retry and backoff, renew at 70 % of the
// certificate's remaining lifetime (clamped 10 s–24 h), open the readiness gate on the first
// certificate, and publish the current certificate's expiry.
import { readFile } from "node:fs/promises";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { Counter, Gauge, type Registry } from "../metrics/prom";
import type { CertifyRequest, CertifyResponse } from "../../api/gen/identity";
import { verifyPeerChain } from "../tls/chain";
import { generateLocalKey, type LocalKey } from "./csr";

export const MIN_REFRESH_MS = 10_000;
export const MAX_REFRESH_MS = 24 * 3600_000;
export const BACKOFF_MIN_MS = 100;
export const BACKOFF_MAX_MS = 60_000;

/** What TLS endpoints need: this proxy's key and chain, and the anchors to verify peers with. */
export interface Credentials {
  readonly identity: string;
  readonly keyPem: string;
  /** Leaf first, then intermediates (PEM). */
  readonly certChainPem: string;
  readonly anchorsPem: string;
  readonly validUntil: Date;
  readonly serialNumber: string;
}

export interface CertifyTransport {
  certify(req: CertifyRequest): Promise<CertifyResponse>;
}

/** A readiness gate as proxy/admin/readiness.ts hands out. */
export interface ReadyGate {
  ready(): void;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class IdentityResponseError extends Error {
  readonly code = "WEFT_ERR_IDENTITY_RESPONSE";
  constructor(message: string) {
    super(message);
    this.name = "IdentityResponseError";
  }
}

/** 70 % of the time left until `validUntilMs`, clamped to [10 s, 24 h]. */
export function refreshDelayMs(validUntilMs: number, nowMs: number): number {
  const delay = Math.floor(((validUntilMs - nowMs) * 7) / 10);
  return Math.min(MAX_REFRESH_MS, Math.max(MIN_REFRESH_MS, delay));
}

/** Exponential backoff 100 ms → 60 s with full jitter in the upper half. `random` in [0, 1). */
export function backoffDelayMs(attempt: number, random: number): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempt, 20));
  return Math.floor(base / 2 + (base / 2) * random);
}

function pemOf(der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
}

/** Checks a CertifyResponse against the request (pure): our key, our name, a chain to an anchor. */
export function credentialsFromResponse(
  res: CertifyResponse,
  local: LocalKey,
  identity: string,
  anchorsPem: string,
  nowMs: number,
): Credentials {
  if (res.leafCertificate.length === 0)
    throw new IdentityResponseError("the response carries no leaf certificate");
  const leaf = new X509Certificate(res.leafCertificate);
  if (!leaf.checkPrivateKey(createPrivateKey(local.keyPem))) {
    throw new IdentityResponseError("the leaf certificate is not for this proxy's key");
  }
  if (leaf.subjectAltName !== `DNS:${identity}`) {
    throw new IdentityResponseError(
      `the leaf certificate names ${leaf.subjectAltName}, not DNS:${identity}`,
    );
  }
  const chain = [res.leafCertificate, ...res.intermediateCertificates];
  const verdict = verifyPeerChain(chain, anchorsPem, nowMs);
  if (!verdict.ok)
    throw new IdentityResponseError(`the leaf does not chain to a trust anchor: ${verdict.reason}`);
  return {
    identity,
    keyPem: local.keyPem,
    certChainPem: chain.map(pemOf).join(""),
    anchorsPem,
    validUntil: new Date(leaf.validTo),
    serialNumber: leaf.serialNumber,
  };
}

export interface AgentOptions {
  identity: string;
  /** The projected service-account token (re-read before each Certify: kubelet rotates it). */
  tokenFile: string;
  anchorsPem: string;
  transport: CertifyTransport;
  gate?: ReadyGate;
  registry?: Registry;
  clock?: Clock;
  random?: () => number;
  log?: (line: string) => void;
}

type Listener = (c: Credentials) => void;

export class IdentityAgent {
  private local: LocalKey | undefined;
  private creds: Credentials | undefined;
  private timer: unknown;
  private attempt = 0;
  private stopped = false;
  private readonly listeners: Listener[] = [];
  private readonly clock: Clock;
  private readonly expiry: Gauge<string> | undefined;
  private readonly refreshes: Counter<string> | undefined;

  constructor(private readonly opts: AgentOptions) {
    this.clock = opts.clock ?? realClock;
    if (opts.registry) {
      this.expiry = new Gauge({
        name: "identity_cert_expiration_timestamp_seconds",
        help: "Unix time at which this proxy's current certificate expires.",
        registers: [opts.registry],
      });
      this.refreshes = new Counter({
        name: "identity_cert_refresh_total",
        help: "Certify attempts by result (ok|error).",
        labelNames: ["result"],
        registers: [opts.registry],
      });
    }
  }

  /** Generates the key and CSR, then certifies in the background until stopped. */
  async start(): Promise<void> {
    this.local = await generateLocalKey(this.opts.identity);
    this.schedule(0);
  }

  current(): Credentials | undefined {
    return this.creds;
  }

  /** Called with every new certificate (the first one and each renewal). */
  onCredentials(fn: Listener): void {
    this.listeners.push(fn);
    if (this.creds) fn(this.creds);
  }

  /** Resolves with the first certificate. */
  firstCredentials(): Promise<Credentials> {
    return new Promise((resolve) => this.onCredentials(resolve));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => void this.refresh(), ms);
  }

  /** One Certify attempt; schedules the next one either way. */
  async refresh(): Promise<void> {
    try {
      const creds = await this.certifyOnce();
      this.attempt = 0;
      this.accept(creds);
      this.schedule(refreshDelayMs(creds.validUntil.getTime(), this.clock.now()));
    } catch (err) {
      this.refreshes?.inc({ result: "error" });
      const delay = backoffDelayMs(this.attempt++, (this.opts.random ?? Math.random)());
      this.opts.log?.(
        `identity: certify failed (${err instanceof Error ? err.message : String(err)}); retry in ${delay} ms`,
      );
      this.schedule(delay);
    }
  }

  private async certifyOnce(): Promise<Credentials> {
    const local = this.local;
    if (local === undefined) throw new Error("start() has not run");
    const token = await readFile(this.opts.tokenFile);
    const res = await this.opts.transport.certify({
      identity: this.opts.identity,
      token,
      certificateSigningRequest: local.csrDer,
    });
    return credentialsFromResponse(
      res,
      local,
      this.opts.identity,
      this.opts.anchorsPem,
      this.clock.now(),
    );
  }

  private accept(creds: Credentials): void {
    const first = this.creds === undefined;
    this.creds = creds;
    this.refreshes?.inc({ result: "ok" });
    this.expiry?.set(Math.floor(creds.validUntil.getTime() / 1000));
    if (first) this.opts.gate?.ready();
    this.opts.log?.(
      `identity: certified ${creds.identity} until ${creds.validUntil.toISOString()}`,
    );
    for (const fn of this.listeners) fn(creds);
  }
}
