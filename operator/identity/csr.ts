// PKCS#10 requests: parse into plain data, then decide (pure) whether they may be signed.
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import "./ca"; // installs the pkijs crypto engine

const OID_CN = "2.5.4.3";
const OID_EXTENSION_REQUEST = "1.2.840.113549.1.9.14";
const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const OID_P256 = "1.2.840.10045.3.1.7";

export interface ParsedCsr {
  commonNames: string[];
  dnsNames: string[];
  emailNames: number;
  ipNames: number;
  uriNames: number;
  otherNames: number;
  /** "ecdsa-p256" or a description of what else it is. */
  keyKind: string;
  signatureValid: boolean;
  publicKey: pkijs.PublicKeyInfo;
}

export class CsrParseError extends Error {
  readonly code = "WEFT_ERR_IDENTITY_CSR_MALFORMED";
  constructor(message: string) {
    super(message);
    this.name = "CsrParseError";
  }
}

function parseRequest(der: Uint8Array): pkijs.CertificationRequest {
  try {
    return pkijs.CertificationRequest.fromBER(der);
  } catch (err) {
    throw new CsrParseError(
      `certificate_signing_request is not a DER PKCS#10 request: ${String(err)}`,
    );
  }
}

function keyKind(spki: pkijs.PublicKeyInfo): string {
  const alg = spki.algorithm.algorithmId;
  if (alg !== OID_EC_PUBLIC_KEY) return `algorithm ${alg}`;
  const params = spki.algorithm.algorithmParams;
  const curve =
    params instanceof asn1js.ObjectIdentifier ? params.valueBlock.toString() : "unknown";
  return curve === OID_P256 ? "ecdsa-p256" : `ecdsa curve ${curve}`;
}

function requestedNames(req: pkijs.CertificationRequest): pkijs.GeneralName[] {
  const names: pkijs.GeneralName[] = [];
  for (const attr of req.attributes ?? []) {
    if (attr.type !== OID_EXTENSION_REQUEST) continue;
    for (const value of attr.values) {
      const exts = new pkijs.Extensions({ schema: value });
      for (const ext of exts.extensions) {
        if (ext.extnID === pkijs.id_SubjectAltName && ext.parsedValue instanceof pkijs.AltName) {
          names.push(...ext.parsedValue.altNames);
        }
      }
    }
  }
  return names;
}

function countType(names: pkijs.GeneralName[], type: number): number {
  return names.filter((n) => n.type === type).length;
}

async function verifySignature(req: pkijs.CertificationRequest): Promise<boolean> {
  try {
    return await req.verify();
  } catch {
    return false;
  }
}

/** Parses a DER CSR into plain data; throws CsrParseError when it is not one. */
export async function parseCsr(der: Uint8Array): Promise<ParsedCsr> {
  const req = parseRequest(der);
  let names: pkijs.GeneralName[];
  try {
    names = requestedNames(req);
  } catch (err) {
    throw new CsrParseError(`the CSR's extension request cannot be read: ${String(err)}`);
  }
  const kind = keyKind(req.subjectPublicKeyInfo);
  return {
    commonNames: req.subject.typesAndValues
      .filter((t) => t.type === OID_CN)
      .map((t) => String(t.value.valueBlock.value)),
    dnsNames: names.filter((n) => n.type === 2).map((n) => String(n.value)),
    emailNames: countType(names, 1),
    uriNames: countType(names, 6),
    ipNames: countType(names, 7),
    otherNames: names.filter((n) => ![1, 2, 6, 7].includes(n.type)).length,
    keyKind: kind,
    signatureValid: kind === "ecdsa-p256" ? await verifySignature(req) : false,
    publicKey: req.subjectPublicKeyInfo,
  };
}

/** Why a CSR may not be signed for `identity`, or undefined when it may. */
export function csrProblem(csr: ParsedCsr, identity: string): string | undefined {
  if (csr.keyKind !== "ecdsa-p256") return `the CSR's key must be ECDSA P-256, got ${csr.keyKind}`;
  if (!csr.signatureValid) return "the CSR's signature does not verify";
  if (csr.emailNames + csr.ipNames + csr.uriNames + csr.otherNames > 0) {
    return "the CSR may carry only a DNS SAN (no email, IP, URI or other names)";
  }
  if (csr.dnsNames.length !== 1)
    return `the CSR must carry exactly one DNS SAN, got ${csr.dnsNames.length}`;
  if (csr.dnsNames[0] !== identity)
    return `the CSR's DNS SAN ${csr.dnsNames[0]} is not the requested identity`;
  if (csr.commonNames.some((cn) => cn !== identity))
    return "the CSR's CN must be empty or equal the identity";
  return undefined;
}
