// PEM <-> DER for certificates and keys.

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

export interface PemBlock {
  label: string;
  der: Buffer;
}

/** Every PEM block in `text`, in order. */
export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    out.push({ label: m[1], der: Buffer.from(m[2].replace(/\s+/g, ""), "base64") });
  }
  return out;
}

/** The DER of every CERTIFICATE block in `text`. */
export function pemCertificates(text: string): Buffer[] {
  return pemBlocks(text)
    .filter((b) => b.label === "CERTIFICATE")
    .map((b) => b.der);
}

export function toPem(der: Uint8Array | ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der instanceof ArrayBuffer ? new Uint8Array(der) : der).toString(
    "base64",
  );
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

export function certificatesToPem(ders: Buffer[]): string {
  return ders.map((d) => toPem(d, "CERTIFICATE")).join("");
}
