// An admission webhook served from this host over TLS, for suites that need the API server
// to call back into the test process (as an operator running on the host would).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";

export interface TlsMaterial {
  cert: string;
  key: string;
  /** base64 of the PEM certificate, for a webhook's caBundle. */
  caBundle: string;
}

/** A self-signed P-256 certificate for the given DNS names and IPs (openssl). */
export function selfSignedCert(dnsNames: string[], ips: string[]): TlsMaterial {
  const dir = mkdtempSync(path.join(os.tmpdir(), "weft-e2e-tls-"));
  try {
    const san = [...dnsNames.map((d) => `DNS:${d}`), ...ips.map((i) => `IP:${i}`)].join(",");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        path.join(dir, "key.pem"),
        "-out",
        path.join(dir, "cert.pem"),
        "-days",
        "1",
        "-subj",
        `/CN=${dnsNames[0] ?? ips[0]}`,
        "-addext",
        `subjectAltName=${san}`,
      ],
      { stdio: "ignore" },
    );
    const cert = readFileSync(path.join(dir, "cert.pem"), "utf8");
    const key = readFileSync(path.join(dir, "key.pem"), "utf8");
    return { cert, key, caBundle: Buffer.from(cert).toString("base64") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  operation: string;
  namespace?: string;
  name?: string;
  object: any;
}

export interface AdmissionResponse {
  allowed: boolean;
  message?: string;
  /** JSON Patch operations; sent base64-encoded as patchType JSONPatch. */
  patch?: object[];
}

export type AdmissionHandler = (request: AdmissionRequest) => AdmissionResponse;

export interface WebhookServer {
  port: number;
  requests: AdmissionRequest[];
  close(): Promise<void>;
}

function reviewResponse(request: AdmissionRequest, answer: AdmissionResponse): object {
  const response: Record<string, unknown> = { uid: request.uid, allowed: answer.allowed };
  if (answer.message) response.status = { code: 403, message: answer.message };
  if (answer.patch) {
    response.patchType = "JSONPatch";
    response.patch = Buffer.from(JSON.stringify(answer.patch)).toString("base64");
  }
  return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response };
}

function serve(handler: AdmissionHandler, requests: AdmissionRequest[]) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      try {
        const request = (JSON.parse(body) as { request: AdmissionRequest }).request;
        requests.push(request);
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(reviewResponse(request, handler(request))));
      } catch (err) {
        res.statusCode = 400;
        res.end(String(err));
      }
    });
  };
}

/** Serves AdmissionReviews on host:port (0 picks a free port) with the given certificate. */
export function startWebhook(
  tls: TlsMaterial,
  handler: AdmissionHandler,
  host = "127.0.0.1",
  port = 0,
): Promise<WebhookServer> {
  const requests: AdmissionRequest[] = [];
  const server: Server = createServer({ cert: tls.cert, key: tls.key }, serve(handler, requests));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        requests,
        close: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}
