// The TLS seam. Outbound, the proxy asks `peerIdentity(endpoint)`; when the peer has one, the
// connection is wrapped by `originate`, so mTLS needs no change in the HTTP or TCP layers.
// Inbound, a connection that starts with a TLS ClientHello is offered to the terminator; what it
// returns is detected again as plaintext. With no terminator (or when it declines, e.g. the SNI
// is not this proxy's identity) the TLS stream is forwarded to the application untouched.

import type { Socket } from "node:net";
import type { TlsLabels } from "../metrics/metrics";
import type { Endpoint } from "../route/resolver";

export interface TlsOriginator {
  /** The identity to require of the endpoint, or undefined to connect in plaintext. */
  peerIdentity(endpoint: Endpoint): string | undefined;
  /**
   * Wraps a connecting socket in TLS to `identity` (SNI = identity) with the given ALPN list;
   * `peerAddress` (the endpoint's IP) picks the TLS session to resume; without it, none is.
   */
  originate(
    socket: Socket,
    identity: string,
    alpn: readonly string[],
    peerAddress?: string,
  ): Socket;
}

export interface Terminated {
  /** The decrypted stream (e.g. a tls.TLSSocket); it replaces the accepted socket. */
  readonly socket: Socket;
  /** The verified identity of the client, when it presented a certificate. */
  readonly clientIdentity: string | undefined;
}

export interface TlsTerminator {
  /**
   * Called with the accepted socket (paused) and the bytes already read from it, which begin
   * with a ClientHello. Resolves undefined to decline: the stream is then forwarded as opaque.
   */
  terminate(socket: Socket, initial: Buffer): Promise<Terminated | undefined>;
}

export interface TlsSeam {
  readonly outbound: TlsOriginator;
  readonly inbound: TlsTerminator | undefined;
  /** Labels for connections without TLS: `disabled` when identity is off, else `no_identity`. */
  readonly plaintextLabels: TlsLabels;
  /** Counts an inbound connection refused for identity, by reason (identity fills it). */
  readonly refused?: (reason: string) => void;
}

/** No TLS anywhere: identity is disabled or not yet plugged in. */
export function noTls(identityDisabled: boolean): TlsSeam {
  return {
    outbound: {
      peerIdentity: () => undefined,
      originate: () => {
        throw new Error("TLS origination is not available");
      },
    },
    inbound: undefined,
    plaintextLabels: identityDisabled
      ? { tls: "disabled" }
      : { tls: "no_identity", no_tls_reason: "not_provided_by_service_discovery" },
  };
}

/** Metric labels of an outbound connection to `endpoint`. */
export function outboundTlsLabels(seam: TlsSeam, identity: string | undefined): TlsLabels {
  return identity === undefined ? seam.plaintextLabels : { tls: "true", server_id: identity };
}

/** Metric labels of an inbound connection, terminated or not. */
export function inboundTlsLabels(
  seam: TlsSeam,
  clientIdentity: string | undefined,
  terminated: boolean,
): TlsLabels {
  if (!terminated) return seam.plaintextLabels;
  return clientIdentity === undefined
    ? { tls: "true" }
    : { tls: "true", client_id: clientIdentity };
}
