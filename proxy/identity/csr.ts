// The proxy's key and CSR: a fresh ECDSA P-256 key at start, kept in memory, and a
// PKCS#10 request whose only name is the proxy's identity (one DNS SAN, CN = identity).
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { webcrypto } from "node:crypto";

const cryptoImpl = webcrypto as unknown as webcrypto.Crypto;
type PkijsKey = Parameters<pkijs.Certificate["sign"]>[0];
const engine = new pkijs.CryptoEngine({ name: "weft-proxy", crypto: cryptoImpl });

const OID_CN = "2.5.4.3";
const OID_EXTENSION_REQUEST = "1.2.840.113549.1.9.14";

export interface LocalKey {
  /** PKCS#8 PEM, for node:tls. Never written to disk by this module. */
  keyPem: string;
  /** DER PKCS#10 request for the identity. */
  csrDer: Buffer;
}

function toPem(der: ArrayBuffer, label: string): string {
  const lines =
    Buffer.from(new Uint8Array(der))
      .toString("base64")
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

export interface CsrSpec {
  /** DNS SANs (normally exactly one: the identity). */
  dnsNames: string[];
  /** Subject CN; "" for none. */
  commonName: string;
  /** Extra SANs by GeneralName type (1 email, 6 URI, 7 IP as raw bytes), for tests of refusals. */
  extraNames?: { type: 1 | 6 | 7; value: string | Uint8Array }[];
}

function sanExtension(spec: CsrSpec): pkijs.Extension {
  const names = spec.dnsNames.map((n) => new pkijs.GeneralName({ type: 2, value: n }));
  for (const extra of spec.extraNames ?? []) {
    const value =
      extra.value instanceof Uint8Array
        ? new asn1js.OctetString({ valueHex: extra.value })
        : extra.value;
    names.push(new pkijs.GeneralName({ type: extra.type, value } as pkijs.GeneralNameParameters));
  }
  const altNames = new pkijs.GeneralNames({ names });
  return new pkijs.Extension({
    extnID: pkijs.id_SubjectAltName,
    extnValue: altNames.toSchema().toBER(false),
  });
}

/** Builds and signs a CSR with `privateKey` over `publicKey` (any WebCrypto key pair). */
export async function buildCsr(
  spec: CsrSpec,
  keys: webcrypto.CryptoKeyPair,
  hash = "SHA-256",
): Promise<Buffer> {
  const req = new pkijs.CertificationRequest();
  if (spec.commonName !== "") {
    req.subject.typesAndValues.push(
      new pkijs.AttributeTypeAndValue({
        type: OID_CN,
        value: new asn1js.Utf8String({ value: spec.commonName }),
      }),
    );
  }
  await req.subjectPublicKeyInfo.importKey(keys.publicKey as unknown as PkijsKey, engine);
  req.attributes = [
    new pkijs.Attribute({
      type: OID_EXTENSION_REQUEST,
      values: [new pkijs.Extensions({ extensions: [sanExtension(spec)] }).toSchema()],
    }),
  ];
  await req.sign(keys.privateKey as unknown as PkijsKey, hash, engine);
  return Buffer.from(req.toSchema().toBER(false));
}

/** A fresh P-256 key and a CSR for `identity`. */
export async function generateLocalKey(identity: string): Promise<LocalKey> {
  const keys = (await cryptoImpl.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as unknown as webcrypto.CryptoKeyPair;
  const csrDer = await buildCsr({ dnsNames: [identity], commonName: identity }, keys);
  const pkcs8 = await cryptoImpl.subtle.exportKey("pkcs8", keys.privateKey);
  return { keyPem: toPem(pkcs8, "PRIVATE KEY"), csrDer };
}
