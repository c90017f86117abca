// mTLS between proxies on node:tls. TLS 1.3 only; SNI = the server's identity; both sides
// present their chain, OpenSSL verifies the peer's against the trust anchors (signatures,
// validity, CA constraints, purpose), and the peer's name is checked against the expected
// identity. Credentials are swapped atomically on renewal; live connections keep theirs.
import { randomBytes } from "node:crypto";
import * as tls from "node:tls";
import type { Socket } from "node:net";
import type { Credentials } from "../identity/agent";
import { parseClientHelloSni } from "./client-hello";
import { TlsSessionCache, sessionKey } from "./sessions";
import { TRANSPORT_HEADER_ALPN } from "./transport-header";
import type { Terminated, TlsOriginator, TlsTerminator } from "./seam";
import type { Endpoint } from "../route/resolver";

export const ALPN = ["h2", "http/1.1"] as const;
/** What the terminator accepts: HTTP/2, HTTP/1.1, and opaque TCP with a transport header. */
export const INBOUND_ALPN = [...ALPN, TRANSPORT_HEADER_ALPN] as const;
export const HANDSHAKE_TIMEOUT_MS = 10_000;

export class TlsIdentityError extends Error {
  constructor(
    readonly code:
      | "WEFT_ERR_TLS_NO_CREDENTIALS"
      | "WEFT_ERR_TLS_PEER_IDENTITY"
      | "WEFT_ERR_TLS_PEER_UNTRUSTED"
      | "WEFT_ERR_TLS_HANDSHAKE",
    message: string,
  ) {
    super(message);
    this.name = "TlsIdentityError";
  }
}

/** The DNS names of a peer certificate's `subjectaltname` ("DNS:a, DNS:b, IP Address:..."). */
export function dnsNamesOf(subjectaltname: string | undefined): string[] {
  return (subjectaltname ?? "")
    .split(", ")
    .filter((s) => s.startsWith("DNS:"))
    .map((s) => s.slice(4));
}

/** The identity a certificate proves: its single DNS SAN, else undefined. */
export function identityOf(cert: { subjectaltname?: string }): string | undefined {
  const dns = dnsNamesOf(cert.subjectaltname);
  const others = (cert.subjectaltname ?? "")
    .split(", ")
    .filter((s) => s !== "" && !s.startsWith("DNS:"));
  return dns.length === 1 && others.length === 0 ? dns[0] : undefined;
}

/**
 * How long a session may be resumed after the full handshake that verified its certificates
 * (seconds): a resumed connection proves the identity of that handshake, so this bounds how
 * long an identity is trusted without its certificate being seen again.
 */
export const SESSION_TIMEOUT_S = 300;
/** OpenSSL resumes no session on a server that verifies client certificates without one. */
const SESSION_ID_CONTEXT = "weft-proxy-mtls";

/**
 * The local credentials as TLS contexts; `update` swaps them for new connections. The server's
 * ticket keys outlive a certificate renewal (a client's session stays resumable) but not a
 * change of trust anchors (sessions verified against the old anchors must not resume). The
 * client's sessions are dropped at every update, so servers see the current certificate.
 */
export class MtlsCredentials {
  /** Outbound sessions kept for resumption, per peer (see sessionKey). */
  readonly sessions = new TlsSessionCache();
  private context: tls.SecureContext | undefined;
  private creds: Credentials | undefined;
  private ticketKeys = randomBytes(48);

  constructor(initial?: Credentials) {
    if (initial) this.update(initial);
  }

  update(creds: Credentials): void {
    if (this.creds !== undefined && this.creds.anchorsPem !== creds.anchorsPem)
      this.ticketKeys = randomBytes(48);
    this.context = tls.createSecureContext({
      key: creds.keyPem,
      cert: creds.certChainPem,
      ca: creds.anchorsPem,
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
      ticketKeys: this.ticketKeys,
      sessionIdContext: SESSION_ID_CONTEXT,
      sessionTimeout: SESSION_TIMEOUT_S,
    });
    this.creds = creds;
    this.sessions.clear();
  }

  identity(): string | undefined {
    return this.creds?.identity;
  }

  secureContext(): tls.SecureContext {
    if (this.context === undefined) {
      throw new TlsIdentityError(
        "WEFT_ERR_TLS_NO_CREDENTIALS",
        "no certificate yet: the proxy is not ready for mTLS",
      );
    }
    return this.context;
  }
}

/** Checks the server's certificate names exactly `expected` (chain trust is checked by OpenSSL). */
export function checkServerIdentity(
  expected: string,
  cert: tls.PeerCertificate,
): Error | undefined {
  const actual = identityOf(cert);
  if (actual === expected && isP256(cert)) return undefined;
  return new TlsIdentityError(
    "WEFT_ERR_TLS_PEER_IDENTITY",
    `the server presented ${cert.subjectaltname ?? "no SAN"} (${cert.asn1Curve ?? "no EC key"}), expected DNS:${expected} on P-256`,
  );
}

/**
 * Starts TLS on `socket` (connecting or connected) to a peer that must prove `identity`. With
 * `peerAddress`, the peer's last session is offered for resumption and new ones are kept.
 */
export function originateTls(
  creds: MtlsCredentials,
  socket: Socket,
  identity: string,
  alpn: readonly string[] = ALPN,
  peerAddress?: string,
): tls.TLSSocket {
  const key = peerAddress === undefined ? undefined : sessionKey(peerAddress, identity);
  const sock = tls.connect({
    socket,
    servername: identity,
    secureContext: creds.secureContext(),
    ALPNProtocols: [...alpn],
    minVersion: "TLSv1.3",
    rejectUnauthorized: true,
    checkServerIdentity: (_host, cert) => checkServerIdentity(identity, cert),
    session: key === undefined ? undefined : creds.sessions.get(key, Date.now()),
  });
  if (key !== undefined) keepSessions(sock, creds.sessions, key);
  return sock;
}

/**
 * Keeps the tickets the server sends, with the expiry of the certificate it proved. node:tls
 * checks neither the chain nor the name again on a resumed session: the ticket, which only the
 * server that issued it can open, stands for the identity proved when it was issued.
 */
function keepSessions(sock: tls.TLSSocket, sessions: TlsSessionCache, key: string): void {
  let notAfterMs: number | undefined;
  sock.on("session", (session: Buffer) => {
    notAfterMs ??= Date.parse(sock.getPeerCertificate().valid_to);
    if (notAfterMs > Date.now()) sessions.set(key, session, notAfterMs);
  });
  // A refused or broken resumption is not offered again: the next connection does it in full.
  sock.once("error", () => sessions.delete(key));
}

/** The seam's outbound side: endpoints with an identity get mTLS, resumed per peer. */
export function mtlsOriginator(creds: MtlsCredentials): TlsOriginator {
  return {
    peerIdentity: (endpoint: Endpoint): string | undefined => endpoint.identity,
    originate: (socket, identity, alpn, peerAddress): Socket =>
      originateTls(creds, socket, identity, alpn, peerAddress),
  };
}

/** The certificate's key is on P-256, the only curve the mesh issues. */
export function isP256(cert: tls.PeerCertificate): boolean {
  return cert.asn1Curve === "prime256v1";
}

/**
 * OpenSSL's verdict on the peer's chain against the context's anchors: an error code such as
 * CERT_HAS_EXPIRED, or "" when it verified. tls.Server and tls.connect enforce it themselves
 * (through this same call); a server-side TLSSocket made by hand, as the terminator's is, only
 * records it, so without this check any certificate would pass.
 */
export function opensslVerifyError(sock: tls.TLSSocket): string {
  const handle = (
    sock as unknown as { _handle?: { verifyError(): (Error & { code?: string }) | null } }
  )._handle;
  if (handle === undefined) return "NO_TLS_HANDLE";
  const err = handle.verifyError();
  return err === null ? "" : (err.code ?? err.message);
}

/**
 * Decides on a terminated connection's client from its certificate and OpenSSL's verdict
 * ("" = verified). On a resumed session both are those of the full handshake that issued the
 * ticket, so the certificate's expiry is checked again here.
 */
export function clientIdentityDecision(
  peer: tls.PeerCertificate | undefined,
  verifyError: string,
  nowMs: number,
): { ok: true; identity: string } | { ok: false; reason: string } {
  if (peer === undefined || peer.raw === undefined)
    return { ok: false, reason: "no_client_certificate" };
  if (verifyError !== "") return { ok: false, reason: "untrusted_client_certificate" };
  if (!(Date.parse(peer.valid_to) > nowMs))
    return { ok: false, reason: "client_certificate_expired" };
  if (!isP256(peer)) return { ok: false, reason: "client_certificate_not_p256" };
  const identity = identityOf(peer);
  if (identity === undefined) return { ok: false, reason: "client_certificate_without_identity" };
  return { ok: true, identity };
}

export interface TerminatorOptions {
  alpn?: readonly string[];
  handshakeTimeoutMs?: number;
  /** Called when a connection is refused (metrics); `reason` is a label value. */
  onRefused?: (reason: string) => void;
}

function handshake(sock: tls.TLSSocket, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (err?: Error): void => {
      clearTimeout(timer);
      sock.off("secure", settle).off("error", settle).off("end", gone).off("close", gone);
      if (err === undefined) resolve();
      else reject(err);
    };
    // A client that goes away mid-handshake ends a server-side socket without an error (and
    // the accepted socket is half-open), which would otherwise wait for the timeout.
    const gone = (): void =>
      settle(
        new TlsIdentityError("WEFT_ERR_TLS_HANDSHAKE", "the client left during the handshake"),
      );
    const timer = setTimeout(
      () => settle(new TlsIdentityError("WEFT_ERR_TLS_HANDSHAKE", "handshake timeout")),
      timeoutMs,
    );
    sock.once("secure", settle).once("error", settle).once("end", gone).once("close", gone);
  });
}

/**
 * The seam's inbound side. Declines (undefined) ClientHellos whose SNI is not this proxy's
 * identity, so they pass through opaque; otherwise terminates, requires a client certificate
 * that OpenSSL verified against the anchors, and resolves with the client's identity (its single
 * DNS SAN). Refusals reject.
 */
export function mtlsTerminator(
  creds: MtlsCredentials,
  opts: TerminatorOptions = {},
): TlsTerminator {
  const refuse = (reason: string, sock: Socket): never => {
    opts.onRefused?.(reason);
    sock.destroy();
    throw new TlsIdentityError("WEFT_ERR_TLS_PEER_UNTRUSTED", `inbound TLS refused: ${reason}`);
  };
  return {
    async terminate(socket: Socket, initial: Buffer): Promise<Terminated | undefined> {
      const local = creds.identity();
      if (local === undefined || parseClientHelloSni(initial) !== local) return undefined;
      socket.unshift(initial);
      const sock = new tls.TLSSocket(socket, {
        isServer: true,
        secureContext: creds.secureContext(),
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: [...(opts.alpn ?? INBOUND_ALPN)],
      });
      sock.on("error", () => sock.destroy());
      await handshake(sock, opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS).catch(() =>
        refuse("handshake_failed", sock),
      );
      const decision = clientIdentityDecision(
        sock.getPeerCertificate(),
        opensslVerifyError(sock),
        Date.now(),
      );
      if (!decision.ok) return refuse(decision.reason, sock);
      // Only a tls.Server clears this on a server-side socket; HTTP/2 would wait for it forever.
      (sock as tls.TLSSocket & { secureConnecting: boolean }).secureConnecting = false;
      return { socket: sock, clientIdentity: decision.identity };
    },
  };
}
