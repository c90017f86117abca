// The identity service's own TLS: a leaf for its identity, issued by the loaded issuer and
// re-issued whenever the issuer changes and at half its lifetime, fed to grpc-js without rebinding.
import * as grpc from "@grpc/grpc-js";
import { issueServiceCertificate, type Issuer } from "./ca";

type CertificateProvider = grpc.experimental.CertificateProvider;
type IdentityCertificateUpdate = grpc.experimental.IdentityCertificateUpdate;
type IdentityCertificateUpdateListener = grpc.experimental.IdentityCertificateUpdateListener;
type CaCertificateUpdateListener = grpc.experimental.CaCertificateUpdateListener;

export class ServingCertificate implements CertificateProvider {
  private latest: IdentityCertificateUpdate | null = null;
  private readonly listeners = new Set<IdentityCertificateUpdateListener>();
  private timer: NodeJS.Timeout | undefined;
  private issuedFor: Issuer | undefined;

  constructor(
    readonly identity: string,
    private readonly lifetimeMs: number,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  /** Server credentials that follow this provider (TLS, no client certificate asked). */
  credentials(): grpc.ServerCredentials {
    // grpc-js passes its first argument to the constructor's identity-provider parameter.
    return grpc.experimental.createCertificateProviderServerCredentials(this, null, false);
  }

  /** Issues a new serving certificate when `issuer` differs from the one last used. */
  async follow(issuer: Issuer | undefined): Promise<void> {
    if (issuer === undefined || issuer === this.issuedFor) return;
    this.issuedFor = issuer;
    await this.issue(issuer);
  }

  private async issue(issuer: Issuer): Promise<void> {
    const cert = await issueServiceCertificate(issuer, {
      identity: this.identity,
      lifetimeMs: this.lifetimeMs,
    });
    this.latest = {
      certificate: Buffer.from(cert.certChainPem),
      privateKey: Buffer.from(cert.keyPem),
    };
    for (const l of this.listeners) l(this.latest);
    this.log(`serving as ${this.identity} until ${cert.validUntil.toISOString()}`);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.issue(issuer), this.lifetimeMs / 2).unref();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  addCaCertificateListener(listener: CaCertificateUpdateListener): void {
    listener(null);
  }
  removeCaCertificateListener(): void {}
  addIdentityCertificateListener(listener: IdentityCertificateUpdateListener): void {
    this.listeners.add(listener);
    // grpc-js registers its watcher only after this returns: deliver the current one just after.
    const latest = this.latest;
    if (latest) queueMicrotask(() => listener(latest));
  }
  removeIdentityCertificateListener(listener: IdentityCertificateUpdateListener): void {
    this.listeners.delete(listener);
  }
}
