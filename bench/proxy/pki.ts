// A throwaway PKI for the mTLS benchmark, made with openssl in the bench's temp dir: one ECDSA
// P-256 trust anchor and a leaf per hop whose DNS SAN is the hop's identity (what Weft checks).
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const P256 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** Writes ca.crt/ca.key, and <name>.crt, <name>.key and <name>.pem (cert + key) for each name. */
export function makePki(dir: string, names: readonly string[]): void {
  const f = (n: string): string => path.join(dir, n);
  openssl([
    "req", "-x509", "-new", ...P256, "-keyout", f("ca.key"), "-out", f("ca.crt"), "-days", "2",
    "-subj", "/CN=weft-bench-ca",
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]); // prettier-ignore
  for (const name of names) {
    const ext = f(`${name}.ext`);
    fs.writeFileSync(
      ext,
      [
        `subjectAltName=DNS:${name}`,
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=serverAuth,clientAuth",
      ].join("\n"),
    );
    openssl(["req", "-new", ...P256, "-keyout", f(`${name}.key`), "-out", f(`${name}.csr`), "-subj", `/CN=${name}`]); // prettier-ignore
    openssl([
      "x509", "-req", "-in", f(`${name}.csr`), "-CA", f("ca.crt"), "-CAkey", f("ca.key"),
      "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", f(`${name}.crt`),
    ]); // prettier-ignore
    fs.writeFileSync(
      f(`${name}.pem`),
      fs.readFileSync(f(`${name}.crt`), "utf8") + fs.readFileSync(f(`${name}.key`), "utf8"),
    );
  }
}
