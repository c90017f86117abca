// Mesh rules CEL cannot check: one Mesh per cluster, and a user-supplied issuer must exist and
// be a P-256 CA that chains to the trust anchors. The I/O (reading Secrets, listing Meshes)
// happens in the capability; these functions decide.

import type { Mesh } from "../../crds/types";
import { parseLogLevel, parsePortRanges } from "../inject/parse";

export const CONTROL_PLANE_NS = "weft-system";

export function onlyOneMesh(name: string | undefined, existing: string[]): string | undefined {
  const others = existing.filter((n) => n !== name);
  if (others.length === 0) return undefined;
  return `metadata.name: a Mesh named "${others[0]}" already exists; a cluster runs one Mesh — edit that one instead`;
}

function portsProblem(field: string, v: string | undefined): string[] {
  if (v === undefined || parsePortRanges(v) !== undefined) return [];
  return [
    `spec.proxy.${field}: "${v}" is not a list of ports or ranges; use e.g. 25,3306,8000-8100`,
  ];
}

/** Proxy defaults whose form the schema does not pin down. */
export function proxyDefaultsProblems(mesh: Mesh): string[] {
  const p = mesh.spec?.proxy ?? {};
  const out = [
    ...portsProblem("opaquePorts", p.opaquePorts),
    ...portsProblem("skipInboundPorts", p.skipInboundPorts),
    ...portsProblem("skipOutboundPorts", p.skipOutboundPorts),
  ];
  if (p.logLevel !== undefined && parseLogLevel(p.logLevel) === undefined) {
    out.push(
      `spec.proxy.logLevel: "${p.logLevel}" is not a level or filter; use e.g. warn,weft=info`,
    );
  }
  const overlap = (mesh.spec?.excludedNamespaces ?? []).filter(
    (n) => n === CONTROL_PLANE_NS || n === "kube-system",
  );
  if (overlap.length)
    out.push(`spec.excludedNamespaces: ${overlap.join(", ")} is always excluded; remove it`);
  return out;
}

export interface IssuerSecretView {
  type?: string;
  /** Decoded PEM strings. */
  data: Record<string, string>;
}

/** The secret name the Mesh asks for, if the user brings an issuer. */
export function issuerSecretName(mesh: Mesh): string | undefined {
  return mesh.spec?.identity?.issuer?.secretName;
}

export function issuerSecretShapeProblem(
  name: string,
  secret: IssuerSecretView | undefined,
): string | undefined {
  const field = "spec.identity.issuer.secretName";
  if (secret === undefined) {
    return `${field}: Secret ${CONTROL_PLANE_NS}/${name} does not exist; create a kubernetes.io/tls Secret holding the issuer (tls.crt, tls.key) or remove the field to let Weft generate one`;
  }
  if (secret.type !== undefined && secret.type !== "kubernetes.io/tls") {
    return `${field}: Secret ${CONTROL_PLANE_NS}/${name} has type ${secret.type}; it must be kubernetes.io/tls with tls.crt and tls.key`;
  }
  const missing = ["tls.crt", "tls.key"].filter((k) => !secret.data[k]);
  if (missing.length)
    return `${field}: Secret ${CONTROL_PLANE_NS}/${name} lacks ${missing.join(" and ")}`;
  return undefined;
}

/** Loads the issuer (identity's CA tooling); the message of any failure names the field. */
export type IssuerLoader = (input: {
  certPem: string;
  keyPem: string;
  anchorsPem: string;
}) => Promise<unknown>;

export async function issuerProblem(
  name: string,
  secret: IssuerSecretView | undefined,
  anchorsPem: string | undefined,
  load: IssuerLoader,
): Promise<string | undefined> {
  const shape = issuerSecretShapeProblem(name, secret);
  if (shape || !secret) return shape;
  const anchors = anchorsPem ?? secret.data["ca.crt"] ?? "";
  try {
    await load({
      certPem: secret.data["tls.crt"],
      keyPem: secret.data["tls.key"],
      anchorsPem: anchors,
    });
    return undefined;
  } catch (e) {
    return `spec.identity.issuer.secretName: Secret ${CONTROL_PLANE_NS}/${name} is not a usable issuer: ${(e as Error).message}; it must be an unexpired ECDSA P-256 CA certificate with its key, chaining to the trust anchors`;
  }
}
