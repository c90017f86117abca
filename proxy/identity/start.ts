// Plugs identity into the proxy: from the WEFT_PROXY_IDENTITY_* settings, starts the agent
// (key + CSR in memory, Certify with retry, renewal), registers the "identity" readiness gate,
// and returns the TLS seam the listeners and pools use. With identity disabled: no TLS, no gate.
import { Counter, type Registry } from "../metrics/prom";
import type { ProxyConfig } from "../config";
import type { ReadinessGate } from "../admin/readiness";
import { noTls, type TlsSeam } from "../tls/seam";
import { MtlsCredentials, mtlsOriginator, mtlsTerminator } from "../tls/mtls";
import { IdentityAgent, type CertifyTransport } from "./agent";
import { grpcCertifyTransport } from "./transport";

export class IdentityConfigError extends Error {
  readonly code = "WEFT_ERR_IDENTITY_CONFIG";
  constructor(missing: string[]) {
    super(
      `identity is enabled but ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not set ` +
        "(set them, or WEFT_PROXY_IDENTITY_DISABLED=true for plaintext only)",
    );
    this.name = "IdentityConfigError";
  }
}

export interface ProxyIdentity {
  readonly seam: TlsSeam;
  /** Counts an inbound connection refused for identity (`inbound_identity_refused_total{reason}`). */
  refused(reason: string): void;
  /** Undefined when identity is disabled. */
  readonly agent: IdentityAgent | undefined;
  stop(): void;
}

export interface IdentityStartOptions {
  /** Registers the readiness gate, e.g. proxy/admin/readiness's registerReadinessGate. */
  registerGate: (name: string) => ReadinessGate;
  /** Where identity_cert_* metrics go (the proxy's /metrics registry). */
  registry?: Registry;
  /**
   * Certify transport; default: gRPC to WEFT_PROXY_IDENTITY_SVC_ADDR, over TLS checked against the
   * anchors and WEFT_PROXY_IDENTITY_SVC_NAME when that is set, else plaintext.
   */
  transport?: CertifyTransport;
  log?: (line: string) => void;
  /** Called with a reason label when inbound TLS is refused. */
  onRefused?: (reason: string) => void;
}

interface IdentitySettings {
  localName: string;
  tokenFile: string;
  trustAnchors: string;
  svcAddr: string;
}

/** The identity settings, or an error naming every missing variable (pure). */
export function identitySettings(config: ProxyConfig): IdentitySettings {
  const id = config.identity;
  const wanted: [string, string | undefined][] = [
    ["WEFT_PROXY_IDENTITY_LOCAL_NAME", id.localName],
    ["WEFT_PROXY_IDENTITY_TOKEN_FILE", id.tokenFile],
    ["WEFT_PROXY_IDENTITY_TRUST_ANCHORS", id.trustAnchors],
    ["WEFT_PROXY_IDENTITY_SVC_ADDR", id.svcAddr],
  ];
  const missing = wanted.filter(([, v]) => v === undefined || v === "").map(([k]) => k);
  if (missing.length > 0) throw new IdentityConfigError(missing);
  return {
    localName: id.localName as string,
    tokenFile: id.tokenFile as string,
    trustAnchors: id.trustAnchors as string,
    svcAddr: id.svcAddr as string,
  };
}

function refusalCounter(opts: IdentityStartOptions): (reason: string) => void {
  const counter =
    opts.registry &&
    new Counter({
      name: "inbound_identity_refused_total",
      help: "Inbound connections refused for identity: TLS handshake or client certificate failures, plaintext on require-identity ports.",
      labelNames: ["reason"],
      registers: [opts.registry],
    });
  return (reason: string): void => {
    counter?.inc({ reason });
    opts.onRefused?.(reason);
  };
}

/** Starts identity for the proxy (resolves at once; the gate opens on the first certificate). */
export async function startProxyIdentity(
  config: ProxyConfig,
  opts: IdentityStartOptions,
): Promise<ProxyIdentity> {
  const refused = refusalCounter(opts);
  if (config.identityDisabled) {
    return { seam: noTls(true), agent: undefined, refused, stop: () => undefined };
  }
  const s = identitySettings(config);
  const svcName = config.identity.svcName;
  const tls = svcName ? { serverName: svcName, anchorsPem: s.trustAnchors } : undefined;
  const transport = opts.transport ?? grpcCertifyTransport(s.svcAddr, tls);
  const creds = new MtlsCredentials();
  const agent = new IdentityAgent({
    identity: s.localName,
    tokenFile: s.tokenFile,
    anchorsPem: s.trustAnchors,
    transport,
    gate: opts.registerGate("identity"),
    registry: opts.registry,
    log: opts.log,
  });
  agent.onCredentials((c) => creds.update(c));
  await agent.start();
  const seam: TlsSeam = {
    outbound: mtlsOriginator(creds),
    inbound: mtlsTerminator(creds, { onRefused: refused }),
    plaintextLabels: noTls(false).plaintextLabels,
    refused,
  };
  return {
    seam,
    agent,
    refused,
    stop: (): void => {
      agent.stop();
      if (opts.transport === undefined && "close" in transport)
        (transport as { close(): void }).close();
    },
  };
}
