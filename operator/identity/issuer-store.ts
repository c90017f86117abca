// The current issuer, reloaded from plain Secret/ConfigMap data whenever either changes.
// A bad update keeps the previous issuer (while it is still valid) and is reported.
import { createHash } from "node:crypto";
import { loadIssuer, type Issuer, type IssuerInput } from "./ca";
import { IssuerError } from "./errors";

export const ISSUER_SECRET_NAME = "weft-identity-issuer";
export const TRUST_ROOTS_CONFIGMAP_NAME = "weft-identity-trust-roots";
export const TRUST_ROOTS_KEY = "ca-bundle.crt";

/** What the watches gathered: decoded Secret data (`kubernetes.io/tls`) and the anchors bundle. */
export interface IssuerSources {
  secretData?: Record<string, string>;
  /** The ConfigMap's ca-bundle.crt; the Secret's ca.crt is used when this is empty. */
  anchorsPem?: string;
}

export type ReloadResult =
  | { kind: "loaded"; issuer: Issuer; changed: boolean }
  | { kind: "invalid"; error: IssuerError; keptPrevious: boolean };

/** The anchors to verify the issuer against (pure). */
export function chooseAnchors(sources: IssuerSources): string {
  const bundle = sources.anchorsPem ?? "";
  return bundle.trim() !== "" ? bundle : (sources.secretData?.["ca.crt"] ?? "");
}

function fingerprint(sources: IssuerSources): string {
  const d = sources.secretData ?? {};
  return createHash("sha256")
    .update([d["tls.crt"] ?? "", d["tls.key"] ?? "", chooseAnchors(sources)].join("\0"))
    .digest("hex");
}

function issuerInput(sources: IssuerSources, now: Date): IssuerInput {
  const data = sources.secretData ?? {};
  return {
    certPem: data["tls.crt"] ?? "",
    keyPem: data["tls.key"] ?? "",
    anchorsPem: chooseAnchors(sources),
    now,
  };
}

export class IssuerStore {
  private issuer: Issuer | undefined;
  private loadedFrom = "";
  private anchors = "";

  current(): Issuer | undefined {
    return this.issuer;
  }

  /** The anchors bundle the current issuer was verified against. */
  anchorsPem(): string {
    return this.anchors;
  }

  async reload(sources: IssuerSources, now: Date = new Date()): Promise<ReloadResult> {
    const print = fingerprint(sources);
    if (this.issuer !== undefined && print === this.loadedFrom && this.issuer.notAfter > now) {
      return { kind: "loaded", issuer: this.issuer, changed: false };
    }
    try {
      if (sources.secretData === undefined) {
        throw new IssuerError(
          "WEFT_ERR_ISSUER_MISSING",
          "the issuer Secret does not exist (or was deleted)",
        );
      }
      const issuer = await loadIssuer(issuerInput(sources, now));
      this.issuer = issuer;
      this.loadedFrom = print;
      this.anchors = chooseAnchors(sources);
      return { kind: "loaded", issuer, changed: true };
    } catch (err) {
      if (!(err instanceof IssuerError)) throw err;
      return { kind: "invalid", error: err, keptPrevious: this.keepPrevious(now) };
    }
  }

  private keepPrevious(now: Date): boolean {
    if (this.issuer !== undefined && this.issuer.notAfter > now) return true;
    this.issuer = undefined;
    this.loadedFrom = "";
    return false;
  }
}
