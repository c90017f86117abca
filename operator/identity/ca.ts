// Certificate authority: root (trust anchor) and issuer (intermediate) generation,
// leaf signing from a checked CSR, chain verification and the trust-root digest.
// ECDSA P-256 / ECDSA-SHA256 throughout, built with pkijs on WebCrypto.
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { createHash, createPrivateKey, randomBytes, webcrypto, X509Certificate } from "node:crypto";
import { IssuerError } from "./errors";
import { certificatesToPem, pemCertificates, toPem } from "./pem";

type Key = webcrypto.CryptoKey;
type KeyPair = webcrypto.CryptoKeyPair;

const cryptoImpl = webcrypto as unknown as webcrypto.Crypto;
type PkijsKey = Parameters<pkijs.Certificate["sign"]>[0];
const engine = new pkijs.CryptoEngine({ name: "weft-node", crypto: cryptoImpl });
pkijs.setEngine("weft-node", engine);

const EC_KEY = { name: "ECDSA", namedCurve: "P-256" } as const;
const OID_CN = "2.5.4.3";
const OID_SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const OID_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
// KeyUsage bits, first octet (bit 0 is the most significant bit).
const KU_DIGITAL_SIGNATURE = 0x80;
const KU_KEY_ENCIPHERMENT = 0x20;
const KU_KEY_CERT_SIGN = 0x04;
const KU_CRL_SIGN = 0x02;

export const DEFAULT_ROOT_LIFETIME_MS = 10 * 365 * 24 * 3600 * 1000;
export const DEFAULT_ISSUER_LIFETIME_MS = 365 * 24 * 3600 * 1000;
export const DEFAULT_LEAF_LIFETIME_MS = 24 * 3600 * 1000;
export const DEFAULT_CLOCK_SKEW_MS = 20 * 1000;

/** A CA certificate and its key, as PEM (the key PKCS#8). */
export interface CaMaterial {
  certPem: string;
  keyPem: string;
}

/** A loaded issuer, ready to sign. `chainDer` is the issuer cert first, then any further intermediates. */
export interface Issuer {
  chainDer: Buffer[];
  certificate: pkijs.Certificate;
  privateKey: Key;
  notAfter: Date;
  subjectKeyId: ArrayBuffer;
}

export interface GeneratedTrust {
  /** PEM bundle for the trust-anchors ConfigMap. */
  trustAnchorsPem: string;
  /** `kubernetes.io/tls` Secret data (PEM strings): tls.crt, tls.key, ca.crt. */
  issuerSecretData: { "tls.crt": string; "tls.key": string; "ca.crt": string };
  trustRootSha256: string;
}

export interface GenerateOptions {
  trustDomain?: string;
  now?: Date;
  rootLifetimeMs?: number;
  issuerLifetimeMs?: number;
}

export function rootCommonName(trustDomain: string): string {
  return `root.weft.${trustDomain}`;
}

export function issuerCommonName(trustDomain: string): string {
  return `identity.weft-system.${trustDomain}`;
}

async function newKeyPair(): Promise<KeyPair> {
  return (await cryptoImpl.subtle.generateKey(EC_KEY, true, [
    "sign",
    "verify",
  ])) as unknown as KeyPair;
}

function nameWithCn(cn: string): pkijs.RelativeDistinguishedNames {
  const name = new pkijs.RelativeDistinguishedNames();
  if (cn !== "") {
    name.typesAndValues.push(
      new pkijs.AttributeTypeAndValue({
        type: OID_CN,
        value: new asn1js.Utf8String({ value: cn }),
      }),
    );
  }
  return name;
}

function serialNumber(): asn1js.Integer {
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f; // positive
  bytes[0] |= 0x01; // no leading zero octet
  return new asn1js.Integer({ valueHex: bytes });
}

function keyUsage(bits: number): pkijs.Extension {
  let unused = 0;
  while (unused < 7 && ((bits >> unused) & 1) === 0) unused++;
  const bitString = new asn1js.BitString({
    valueHex: new Uint8Array([bits]).buffer,
    unusedBits: unused,
  });
  return new pkijs.Extension({
    extnID: pkijs.id_KeyUsage,
    critical: true,
    extnValue: bitString.toBER(false),
    parsedValue: bitString,
  });
}

function basicConstraints(ca: boolean, pathLen?: number): pkijs.Extension {
  const value = new pkijs.BasicConstraints(
    pathLen === undefined ? { cA: ca } : { cA: ca, pathLenConstraint: pathLen },
  );
  return new pkijs.Extension({
    extnID: pkijs.id_BasicConstraints,
    critical: true,
    extnValue: value.toSchema().toBER(false),
    parsedValue: value,
  });
}

function subjectKeyIdExtension(keyId: ArrayBuffer): pkijs.Extension {
  const value = new asn1js.OctetString({ valueHex: keyId });
  return new pkijs.Extension({
    extnID: pkijs.id_SubjectKeyIdentifier,
    extnValue: value.toBER(false),
  });
}

function authorityKeyIdExtension(keyId: ArrayBuffer): pkijs.Extension {
  const value = new pkijs.AuthorityKeyIdentifier({
    keyIdentifier: new asn1js.OctetString({ valueHex: keyId }),
  });
  return new pkijs.Extension({
    extnID: pkijs.id_AuthorityKeyIdentifier,
    extnValue: value.toSchema().toBER(false),
  });
}

function extKeyUsageServerClient(): pkijs.Extension {
  const value = new pkijs.ExtKeyUsage({ keyPurposes: [OID_SERVER_AUTH, OID_CLIENT_AUTH] });
  return new pkijs.Extension({
    extnID: pkijs.id_ExtKeyUsage,
    extnValue: value.toSchema().toBER(false),
  });
}

function dnsSanExtension(name: string): pkijs.Extension {
  const value = new pkijs.GeneralNames({
    names: [new pkijs.GeneralName({ type: 2, value: name })],
  });
  return new pkijs.Extension({
    extnID: pkijs.id_SubjectAltName,
    extnValue: value.toSchema().toBER(false),
  });
}

async function keyIdOf(spki: pkijs.PublicKeyInfo): Promise<ArrayBuffer> {
  const raw = spki.subjectPublicKey.valueBlock.valueHexView;
  return cryptoImpl.subtle.digest("SHA-1", raw);
}

interface CertSpec {
  subjectCn: string;
  subjectPublicKey: Key | pkijs.PublicKeyInfo;
  issuerName?: pkijs.RelativeDistinguishedNames;
  issuerKeyId?: ArrayBuffer;
  signingKey: Key;
  notBefore: Date;
  notAfter: Date;
  extensions: pkijs.Extension[];
}

async function buildCertificate(spec: CertSpec): Promise<pkijs.Certificate> {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = serialNumber();
  cert.subject = nameWithCn(spec.subjectCn);
  cert.issuer = spec.issuerName ?? nameWithCn(spec.subjectCn);
  cert.notBefore.value = wholeSeconds(spec.notBefore);
  cert.notAfter.value = wholeSeconds(spec.notAfter);
  if (spec.subjectPublicKey instanceof pkijs.PublicKeyInfo) {
    cert.subjectPublicKeyInfo = spec.subjectPublicKey;
  } else {
    await cert.subjectPublicKeyInfo.importKey(spec.subjectPublicKey as unknown as PkijsKey, engine);
  }
  const skid = await keyIdOf(cert.subjectPublicKeyInfo);
  const extensions = [...spec.extensions, subjectKeyIdExtension(skid)];
  extensions.push(authorityKeyIdExtension(spec.issuerKeyId ?? skid));
  cert.extensions = extensions;
  await cert.sign(spec.signingKey as unknown as PkijsKey, "SHA-256", engine);
  return cert;
}

/** DER times carry whole seconds; round down so the encoded value is what callers see. */
function wholeSeconds(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

function certDer(cert: pkijs.Certificate): Buffer {
  return Buffer.from(cert.toSchema(true).toBER(false));
}

async function exportKeyPem(key: Key): Promise<string> {
  const pkcs8 = await cryptoImpl.subtle.exportKey("pkcs8", key);
  return toPem(new Uint8Array(pkcs8), "PRIVATE KEY");
}

/** A self-signed root CA (the trust anchor). */
export async function generateRoot(opts: GenerateOptions = {}): Promise<CaMaterial> {
  const now = opts.now ?? new Date();
  const keys = await newKeyPair();
  const cert = await buildCertificate({
    subjectCn: rootCommonName(opts.trustDomain ?? "cluster.local"),
    subjectPublicKey: keys.publicKey,
    signingKey: keys.privateKey,
    notBefore: new Date(now.getTime() - DEFAULT_CLOCK_SKEW_MS),
    notAfter: new Date(now.getTime() + (opts.rootLifetimeMs ?? DEFAULT_ROOT_LIFETIME_MS)),
    extensions: [basicConstraints(true), keyUsage(KU_KEY_CERT_SIGN | KU_CRL_SIGN)],
  });
  return {
    certPem: toPem(certDer(cert), "CERTIFICATE"),
    keyPem: await exportKeyPem(keys.privateKey),
  };
}

/** An issuer (intermediate CA, path length 0) signed by `root`, never outliving it. */
export async function generateIssuer(
  root: CaMaterial,
  opts: GenerateOptions = {},
): Promise<CaMaterial> {
  const now = opts.now ?? new Date();
  const rootCert = parseCertificate(pemCertificates(root.certPem)[0]);
  const rootKey = await importPrivateKey(root.keyPem);
  const keys = await newKeyPair();
  const wanted = new Date(now.getTime() + (opts.issuerLifetimeMs ?? DEFAULT_ISSUER_LIFETIME_MS));
  const cert = await buildCertificate({
    subjectCn: issuerCommonName(opts.trustDomain ?? "cluster.local"),
    subjectPublicKey: keys.publicKey,
    issuerName: rootCert.subject,
    issuerKeyId: await keyIdOf(rootCert.subjectPublicKeyInfo),
    signingKey: rootKey,
    notBefore: new Date(now.getTime() - DEFAULT_CLOCK_SKEW_MS),
    notAfter: earliest(wanted, rootCert.notAfter.value),
    extensions: [basicConstraints(true, 0), keyUsage(KU_KEY_CERT_SIGN | KU_CRL_SIGN)],
  });
  return {
    certPem: toPem(certDer(cert), "CERTIFICATE"),
    keyPem: await exportKeyPem(keys.privateKey),
  };
}

/**
 * What the Mesh reconciler writes when the user supplies no issuer: a root for the
 * trust-anchors ConfigMap and an issuer in `kubernetes.io/tls` Secret shape.
 */
export async function generateTrust(opts: GenerateOptions = {}): Promise<GeneratedTrust> {
  const root = await generateRoot(opts);
  const issuer = await generateIssuer(root, opts);
  return {
    trustAnchorsPem: root.certPem,
    issuerSecretData: {
      "tls.crt": issuer.certPem,
      "tls.key": issuer.keyPem,
      "ca.crt": root.certPem,
    },
    trustRootSha256: trustRootSha256(root.certPem),
  };
}

/**
 * Hex SHA-256 of the trust-anchors PEM bundle exactly as stored in the ConfigMap
 * (the injector's trust-root annotation; changes whenever the bundle does).
 */
export function trustRootSha256(trustAnchorsPem: string): string {
  return createHash("sha256").update(trustAnchorsPem, "utf8").digest("hex");
}

export function parseCertificate(der: Buffer): pkijs.Certificate {
  return pkijs.Certificate.fromBER(new Uint8Array(der));
}

function earliest(a: Date, b: Date): Date {
  return a.getTime() <= b.getTime() ? a : b;
}

/** Imports a P-256 private key from PEM (PKCS#8 or SEC1 "EC PRIVATE KEY", as cert-manager writes it). */
export async function importPrivateKey(pem: string): Promise<Key> {
  let pkcs8: Buffer;
  try {
    pkcs8 = createPrivateKey(pem).export({ format: "der", type: "pkcs8" });
  } catch (err) {
    throw new IssuerError(
      "WEFT_ERR_ISSUER_KEY",
      `issuer key is not a readable PEM private key: ${String(err)}`,
    );
  }
  try {
    return (await cryptoImpl.subtle.importKey("pkcs8", pkcs8, EC_KEY, true, [
      "sign",
    ])) as unknown as Key;
  } catch {
    throw new IssuerError("WEFT_ERR_ISSUER_KEY", "issuer key must be an ECDSA P-256 key");
  }
}

export interface IssuerInput {
  /** tls.crt: the issuer certificate, optionally followed by further intermediates. */
  certPem: string;
  /** tls.key */
  keyPem: string;
  /** The trust anchors (ConfigMap bundle; falls back to the Secret's ca.crt when empty). */
  anchorsPem: string;
  now?: Date;
}

/** Loads and checks an issuer: a CA cert whose key matches, unexpired, chaining to an anchor. */
export async function loadIssuer(input: IssuerInput): Promise<Issuer> {
  const chainDer = pemCertificates(input.certPem);
  if (chainDer.length === 0)
    throw new IssuerError("WEFT_ERR_ISSUER_PEM", "tls.crt holds no PEM CERTIFICATE");
  const anchors = pemCertificates(input.anchorsPem);
  if (anchors.length === 0)
    throw new IssuerError("WEFT_ERR_ISSUER_ANCHORS", "the trust-anchor bundle is empty");
  const x509 = new X509Certificate(chainDer[0]);
  checkIssuerCert(x509, input.now ?? new Date());
  const privateKey = await importPrivateKey(input.keyPem);
  checkKeyMatches(x509, input.keyPem);
  if (!verifyChain(chainDer, anchors, input.now ?? new Date()).ok) {
    throw new IssuerError(
      "WEFT_ERR_ISSUER_UNTRUSTED",
      "the issuer does not chain to any trust anchor",
    );
  }
  const certificate = parseCertificate(chainDer[0]);
  return {
    chainDer,
    certificate,
    privateKey,
    notAfter: certificate.notAfter.value,
    subjectKeyId: await keyIdOf(certificate.subjectPublicKeyInfo),
  };
}

function checkIssuerCert(x509: X509Certificate, now: Date): void {
  if (!x509.ca)
    throw new IssuerError(
      "WEFT_ERR_ISSUER_NOT_CA",
      "the issuer certificate is not a CA (basicConstraints)",
    );
  if (new Date(x509.validTo).getTime() <= now.getTime()) {
    throw new IssuerError(
      "WEFT_ERR_ISSUER_EXPIRED",
      `the issuer certificate expired at ${x509.validTo}`,
    );
  }
  const key = x509.publicKey.asymmetricKeyDetails;
  if (x509.publicKey.asymmetricKeyType !== "ec" || key?.namedCurve !== "prime256v1") {
    throw new IssuerError(
      "WEFT_ERR_ISSUER_KEY",
      "the issuer certificate must carry an ECDSA P-256 key",
    );
  }
}

function checkKeyMatches(x509: X509Certificate, keyPem: string): void {
  if (!x509.checkPrivateKey(createPrivateKey(keyPem))) {
    throw new IssuerError(
      "WEFT_ERR_ISSUER_KEY",
      "tls.key does not match the certificate in tls.crt",
    );
  }
}

export type ChainResult = { ok: true } | { ok: false; reason: string };

/**
 * Verifies `chain` (leaf first, then intermediates) up to one of `anchors` (DER):
 * each link's signature and issuer name, CA flags above the leaf, validity at `now`.
 */
export function verifyChain(chain: Buffer[], anchors: Buffer[], now: Date): ChainResult {
  const certs = chain.map((d) => new X509Certificate(d));
  const roots = anchors.map((d) => new X509Certificate(d));
  for (const c of certs) {
    const validity = checkValidity(c, now);
    if (!validity.ok) return validity;
  }
  for (let i = 0; i + 1 < certs.length; i++) {
    const link = checkLink(certs[i], certs[i + 1]);
    if (!link.ok) return link;
  }
  const top = certs[certs.length - 1];
  const anchor = roots.find((r) => checkLink(top, r).ok && checkValidity(r, now).ok);
  if (anchor === undefined) return { ok: false, reason: "no trust anchor signed the chain" };
  return { ok: true };
}

function checkValidity(c: X509Certificate, now: Date): ChainResult {
  const t = now.getTime();
  if (new Date(c.validFrom).getTime() > t)
    return { ok: false, reason: `not yet valid: ${c.subject}` };
  if (new Date(c.validTo).getTime() < t) return { ok: false, reason: `expired: ${c.subject}` };
  return { ok: true };
}

function checkLink(child: X509Certificate, parent: X509Certificate): ChainResult {
  if (!parent.ca) return { ok: false, reason: `not a CA: ${parent.subject}` };
  if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
    return { ok: false, reason: `${child.subject} not signed by ${parent.subject}` };
  }
  return { ok: true };
}

export interface LeafOptions {
  identity: string;
  lifetimeMs?: number;
  skewMs?: number;
  now?: Date;
}

export interface SignedLeaf {
  leafDer: Buffer;
  /** Intermediates to send with it, issuer first. */
  intermediatesDer: Buffer[];
  notBefore: Date;
  validUntil: Date;
}

/** The leaf's validity: [now - skew, now + lifetime + skew], clamped to the issuer's expiry. */
export function leafValidity(
  now: Date,
  lifetimeMs: number,
  skewMs: number,
  issuerNotAfter: Date,
): [Date, Date] {
  const notBefore = new Date(now.getTime() - skewMs);
  const notAfter = earliest(new Date(now.getTime() + lifetimeMs + skewMs), issuerNotAfter);
  return [notBefore, notAfter];
}

/** Signs a leaf for `opts.identity` over `publicKey` (taken from a CSR already checked). */
export async function signLeaf(
  issuer: Issuer,
  publicKey: pkijs.PublicKeyInfo,
  opts: LeafOptions,
): Promise<SignedLeaf> {
  const now = opts.now ?? new Date();
  const [notBefore, notAfter] = leafValidity(
    now,
    opts.lifetimeMs ?? DEFAULT_LEAF_LIFETIME_MS,
    opts.skewMs ?? DEFAULT_CLOCK_SKEW_MS,
    issuer.notAfter,
  );
  const cert = await buildCertificate({
    subjectCn: opts.identity,
    subjectPublicKey: publicKey,
    issuerName: issuer.certificate.subject,
    issuerKeyId: issuer.subjectKeyId,
    signingKey: issuer.privateKey,
    notBefore,
    notAfter,
    extensions: [
      basicConstraints(false),
      keyUsage(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT),
      extKeyUsageServerClient(),
      dnsSanExtension(opts.identity),
    ],
  });
  return {
    leafDer: certDer(cert),
    intermediatesDer: issuer.chainDer,
    notBefore: cert.notBefore.value,
    validUntil: cert.notAfter.value,
  };
}

/** The PEM chain (leaf, then intermediates) a TLS endpoint presents. */
export function chainPem(leaf: SignedLeaf): string {
  return certificatesToPem([leaf.leafDer, ...leaf.intermediatesDer]);
}

export interface ServiceCertificate {
  /** Leaf then intermediates, PEM. */
  certChainPem: string;
  keyPem: string;
  validUntil: Date;
}

/** A fresh key and a leaf for a control-plane service's own identity (e.g. the identity service's TLS). */
export async function issueServiceCertificate(
  issuer: Issuer,
  opts: LeafOptions,
): Promise<ServiceCertificate> {
  const keys = await newKeyPair();
  const spki = new pkijs.PublicKeyInfo();
  await spki.importKey(keys.publicKey as unknown as PkijsKey, engine);
  const leaf = await signLeaf(issuer, spki, opts);
  return {
    certChainPem: chainPem(leaf),
    keyPem: await exportKeyPem(keys.privateKey),
    validUntil: leaf.validUntil,
  };
}
