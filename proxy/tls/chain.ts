// Chain verification for the proxy (node's X509Certificate): leaf → intermediates → an anchor.
import { X509Certificate } from "node:crypto";

export type Verdict = { ok: true } | { ok: false; reason: string };

/** DER of every CERTIFICATE in a PEM bundle. */
export function pemToDer(pem: string): Buffer[] {
  const out: Buffer[] = [];
  for (const m of pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)) {
    out.push(Buffer.from(m[1].replace(/\s+/g, ""), "base64"));
  }
  return out;
}

function within(c: X509Certificate, nowMs: number): boolean {
  return Date.parse(c.validFrom) <= nowMs && nowMs <= Date.parse(c.validTo);
}

function signedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return parent.ca && child.checkIssued(parent) && child.verify(parent.publicKey);
}

let parsedAnchors: { pem: string; certs: X509Certificate[] } = { pem: "", certs: [] };

/** The anchors bundle parsed once per distinct bundle (it changes only on rotation). */
function anchorsOf(pem: string): X509Certificate[] {
  if (parsedAnchors.pem !== pem)
    parsedAnchors = { pem, certs: pemToDer(pem).map((d) => new X509Certificate(d)) };
  return parsedAnchors.certs;
}

/** Verifies `chain` (DER, leaf first) against the anchors bundle at `nowMs`. */
export function verifyPeerChain(chain: Buffer[], anchorsPem: string, nowMs: number): Verdict {
  const certs = chain.map((d) => new X509Certificate(d));
  const anchors = anchorsOf(anchorsPem);
  if (certs.length === 0) return { ok: false, reason: "empty chain" };
  const stale = certs.find((c) => !within(c, nowMs));
  if (stale) return { ok: false, reason: `outside its validity: ${stale.subject}` };
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!signedBy(certs[i], certs[i + 1]))
      return { ok: false, reason: `${certs[i].subject} not signed by the next` };
  }
  const top = certs[certs.length - 1];
  if (!anchors.some((a) => within(a, nowMs) && signedBy(top, a)))
    return { ok: false, reason: "no anchor signed it" };
  return { ok: true };
}
