// Prometheus metrics of the identity service.
import { Counter, Gauge, Registry } from "prom-client";

export class IdentityMetrics {
  readonly registry: Registry;
  readonly issuerExpiry: Gauge<string>;
  readonly issued: Counter<string>;
  readonly rejections: Counter<string>;
  readonly issuerReloads: Counter<string>;

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    this.issuerExpiry = new Gauge({
      name: "identity_issuer_expiry_timestamp_seconds",
      help: "Unix time at which the loaded issuer certificate expires (absent while none is loaded).",
      registers: [registry],
    });
    this.issued = new Counter({
      name: "identity_certificates_issued_total",
      help: "Leaf certificates issued by Certify.",
      registers: [registry],
    });
    this.rejections = new Counter({
      name: "identity_certify_rejections_total",
      help: "Certify calls refused, by reason.",
      labelNames: ["reason"],
      registers: [registry],
    });
    this.issuerReloads = new Counter({
      name: "identity_issuer_reloads_total",
      help: "Issuer (re)loads from the Secret and trust-anchor ConfigMap, by result (loaded|invalid).",
      labelNames: ["result"],
      registers: [registry],
    });
  }

  issuerLoaded(notAfter: Date | undefined): void {
    if (notAfter === undefined) this.issuerExpiry.reset();
    else this.issuerExpiry.set(Math.floor(notAfter.getTime() / 1000));
  }
}
