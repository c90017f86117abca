// Identity against a real API server: TokenReview (audience identity.weft.io), the startup
// access check, the issuer Secret and anchors ConfigMap watched and reloaded, Events.
// The identity service runs in this process against the cluster's kubeconfig; the tokens are
// real (a pod's projected token, `kubectl create token`, and tokens signed with the local
// cluster's service-account key for the expired case).
//
//   npx mocha --no-config --require tsx/cjs --timeout 180000 e2e/identity.test.ts
import { expect } from "chai";
import * as grpc from "@grpc/grpc-js";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createPrivateKey, generateKeyPairSync, sign, X509Certificate } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  apply,
  createNamespace,
  kubeconfigPath,
  kubectl,
  kubectlOk,
  repoRoot,
  waitFor,
} from "./lib/cluster";
import { generateTrust, type GeneratedTrust } from "../operator/identity/ca";
import { checkTokenReviewAccess, connectKube, type Kube } from "../operator/identity/kube";
import { parseArgs, startIdentityService, type IdentityService } from "../operator/identity/main";
import { IdentityStartupError } from "../operator/identity/errors";
import { IdentityAgent } from "../proxy/identity/agent";
import { generateLocalKey } from "../proxy/identity/csr";
import { grpcCertifyTransport } from "../proxy/identity/transport";

const IMAGE = "docker.io/weft/testapp:1";
const AUDIENCE = "identity.weft.io";
const SERVICE_IDENTITY =
  "weft-identity.weft-system.serviceaccount.identity.weft-system.cluster.local";

function idFor(sa: string, ns: string): string {
  return `${sa}.${ns}.serviceaccount.identity.weft-system.cluster.local`;
}

function secretManifest(ns: string, trust: GeneratedTrust): string {
  const b64 = (s: string): string => Buffer.from(s).toString("base64");
  const d = trust.issuerSecretData;
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/tls",
    metadata: { name: "weft-identity-issuer", namespace: ns },
    data: {
      "tls.crt": b64(d["tls.crt"]),
      "tls.key": b64(d["tls.key"]),
      "ca.crt": b64(d["ca.crt"]),
    },
  });
}

function anchorsManifest(ns: string, bundle: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "weft-identity-trust-roots", namespace: ns },
    data: { "ca-bundle.crt": bundle },
  });
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString("base64url");
}

/** A copy of a real token with its claims changed and re-signed with `keyPem` (ES256). */
function resign(
  token: string,
  keyPem: string,
  change: (claims: Record<string, unknown>) => void,
): string {
  const [header, payload] = token.split(".");
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<
    string,
    unknown
  >;
  change(claims);
  const body = `${header}.${b64url(JSON.stringify(claims))}`;
  const sig = sign("sha256", Buffer.from(body), {
    key: createPrivateKey(keyPem),
    dsaEncoding: "ieee-p1363",
  });
  return `${body}.${b64url(sig)}`;
}

/**
 * The pod's projected token as the kubelet wrote it: read through `kubectl exec`, or, on the local
 * cluster when exec cannot reach the kubelet, from the kubelet's volume directory on this host.
 */
async function projectedToken(ns: string, pod: string): Promise<string> {
  const r = await kubectl([
    "-n",
    ns,
    "exec",
    pod,
    "--",
    "cat",
    "/var/run/secrets/tokens/weft-identity",
  ]);
  if (r.code === 0) return r.stdout;
  const uid = (
    await kubectlOk(["-n", ns, "get", "pod", pod, "-o", "jsonpath={.metadata.uid}"])
  ).trim();
  const file = path.join(
    repoRoot,
    ".cluster/kubelet/root/pods",
    uid,
    "volumes/kubernetes.io~projected/weft-identity-token/weft-identity",
  );
  if (process.env.KUBECONFIG || !existsSync(file))
    throw new Error(`kubectl exec failed: ${r.stderr.trim()}`);
  console.log(
    `      (kubectl exec failed: ${r.stderr.trim().slice(0, 120)}...; read the kubelet's copy at ${file})`,
  );
  return readFileSync(file, "utf8");
}

describe("identity against the cluster's API server (e2e)", function () {
  this.timeout(180_000);
  let ns: string;
  let kube: Kube;
  let service: IdentityService | undefined;
  let first: GeneratedTrust;
  /** What proxies trust; the service's TLS certificate is checked against it. */
  let anchors = "";
  const dir = mkdtempSync(path.join(tmpdir(), "weft-e2e-identity-"));

  before(async function () {
    if (!existsSync(kubeconfigPath())) {
      console.log(
        `      skipped: no cluster (${kubeconfigPath()} does not exist; run make cluster-up or set KUBECONFIG)`,
      );
      this.skip();
    }
    ns = await createNamespace("weft-e2e-identity");
    await kubectlOk(["-n", ns, "create", "serviceaccount", "web"]);
    await kubectlOk(["-n", ns, "create", "serviceaccount", "db"]);
    kube = await connectKube(kubeconfigPath());
    first = await generateTrust();
    anchors = first.trustAnchorsPem;
  });

  function transport(): ReturnType<typeof grpcCertifyTransport> {
    return grpcCertifyTransport(`127.0.0.1:${service!.port}`, {
      serverName: SERVICE_IDENTITY,
      anchorsPem: anchors,
    });
  }

  after(async () => {
    await service?.stop();
    if (ns) await kubectl(["delete", "namespace", ns, "--wait=false"]);
  });

  async function certify(identity: string, token: string): Promise<grpc.status | "OK"> {
    const client = transport();
    try {
      const csr = (await generateLocalKey(identity)).csrDer;
      await client.certify({
        identity,
        token: Buffer.from(token),
        certificateSigningRequest: csr,
      });
      return "OK";
    } catch (err) {
      return (err as grpc.ServiceError).code;
    } finally {
      client.close();
    }
  }

  async function token(sa: string, audience = AUDIENCE): Promise<string> {
    return (
      await kubectlOk([
        "-n",
        ns,
        "create",
        "token",
        sa,
        "--audience",
        audience,
        "--duration",
        "10m",
      ])
    ).trim();
  }

  it("passes its startup self-check and answers UNAVAILABLE until the issuer Secret exists", async () => {
    const args = parseArgs([
      "--namespace",
      ns,
      "--addr",
      "127.0.0.1:0",
      "--admin-addr",
      "127.0.0.1:0",
      "--service-identity",
      SERVICE_IDENTITY,
    ]);
    service = await startIdentityService(args, kube, "weft-system");
    expect(await certify(idFor("web", ns), await token("web"))).to.equal(grpc.status.UNAVAILABLE);
    await apply(anchorsManifest(ns, first.trustAnchorsPem));
    await apply(secretManifest(ns, first));
    await waitFor(
      "the issuer to load from the watched Secret",
      async () => service!.store.current(),
      30_000,
      200,
    );
    expect(await service.metrics.registry.metrics()).to.match(
      /identity_issuer_expiry_timestamp_seconds \d+/,
    );
  });

  it("certifies a pod's projected token for <sa>.<ns>.serviceaccount.identity.weft-system.cluster.local", async () => {
    await apply(
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "web", namespace: ns },
        spec: {
          serviceAccountName: "web",
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: "main",
              image: IMAGE,
              imagePullPolicy: "Never",
              command: ["sleep", "3600"],
              volumeMounts: [{ name: "weft-identity-token", mountPath: "/var/run/secrets/tokens" }],
            },
          ],
          volumes: [
            {
              name: "weft-identity-token",
              projected: {
                sources: [
                  {
                    serviceAccountToken: {
                      audience: AUDIENCE,
                      expirationSeconds: 86400,
                      path: "weft-identity",
                    },
                  },
                ],
              },
            },
          ],
        },
      }),
    );
    await kubectlOk(["-n", ns, "wait", "--for=condition=Ready", "pod/web", "--timeout=120s"], {
      timeoutMs: 130_000,
    });
    const projected = await projectedToken(ns, "web");
    const tokenFile = path.join(dir, "web-token");
    writeFileSync(tokenFile, projected);
    const client = transport();
    const agent = new IdentityAgent({
      identity: idFor("web", ns),
      tokenFile,
      anchorsPem: anchors,
      transport: client,
    });
    await agent.start();
    const creds = await agent.firstCredentials();
    agent.stop();
    client.close();
    const leaf = new X509Certificate(creds.certChainPem);
    expect(leaf.subjectAltName).to.equal(
      `DNS:web.${ns}.serviceaccount.identity.weft-system.cluster.local`,
    );
    const events = await waitFor(
      "the IssuedLeafCertificate Event on the ServiceAccount",
      async () => {
        const out = await kubectlOk([
          "-n",
          ns,
          "get",
          "events",
          "--field-selector",
          "involvedObject.kind=ServiceAccount,involvedObject.name=web,reason=IssuedLeafCertificate",
          "-o",
          "name",
        ]);
        return out.trim() !== "" ? out : undefined;
      },
      30_000,
    );
    expect(events).to.contain("event");
  });

  it("refuses another service account's token, another audience's token and a forged token", async () => {
    const web = idFor("web", ns);
    expect(await certify(web, await token("db"))).to.equal(grpc.status.FAILED_PRECONDITION);
    expect(
      await certify(web, await token("web", "https://kubernetes.default.svc.cluster.local")),
    ).to.equal(grpc.status.FAILED_PRECONDITION);
    const stranger = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
      format: "pem",
      type: "pkcs8",
    });
    const forged = resign(await token("web"), stranger.toString(), () => undefined);
    expect(await certify(web, forged)).to.equal(grpc.status.FAILED_PRECONDITION);
    expect(await certify(web, "not-a-jwt")).to.equal(grpc.status.FAILED_PRECONDITION);
    expect(await certify(web, await token("web"))).to.equal("OK");
  });

  it("refuses an expired token signed by the cluster's own service-account key", async function () {
    const keyFile = path.join(repoRoot, ".cluster", "pki", "sa.key");
    if (process.env.KUBECONFIG || !existsSync(keyFile)) {
      console.log(`      skipped: needs the local cluster's service-account key (${keyFile})`);
      this.skip();
    }
    const key = readFileSync(keyFile, "utf8");
    const now = Math.floor(Date.now() / 1000);
    const valid = resign(await token("web"), key, () => undefined);
    expect(
      await certify(idFor("web", ns), valid),
      "a re-signed unexpired token is accepted",
    ).to.equal("OK");
    const expired = resign(await token("web"), key, (c) => {
      c.iat = now - 7200;
      c.nbf = now - 7200;
      c.exp = now - 3600;
    });
    expect(await certify(idFor("web", ns), expired)).to.equal(grpc.status.FAILED_PRECONDITION);
  });

  it("reloads a new issuer from the Secret without restart (anchors bundle first)", async () => {
    const next = await generateTrust();
    anchors = first.trustAnchorsPem + next.trustAnchorsPem;
    await apply(anchorsManifest(ns, anchors));
    await apply(secretManifest(ns, next));
    const nextIssuer = new X509Certificate(next.issuerSecretData["tls.crt"]);
    await waitFor(
      "the new issuer",
      async () => (service!.store.current()?.chainDer[0].equals(nextIssuer.raw) ? true : undefined),
      30_000,
      200,
    );
    const client = transport();
    const csr = (await generateLocalKey(idFor("web", ns))).csrDer;
    const res = await client.certify({
      identity: idFor("web", ns),
      token: Buffer.from(await token("web")),
      certificateSigningRequest: csr,
    });
    client.close();
    expect(new X509Certificate(res.leafCertificate).checkIssued(nextIssuer)).to.equal(true);
  });

  it("fails its startup self-check for a service account that may not create TokenReviews", async () => {
    const cluster = kube.kc.getCurrentCluster()!;
    const kc = new kube.k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: "c",
          server: cluster.server,
          caData: cluster.caData,
          caFile: cluster.caFile,
          skipTLSVerify: false,
        },
      ],
      users: [
        { name: "db", token: await token("db", "https://kubernetes.default.svc.cluster.local") },
      ],
      contexts: [{ name: "db", cluster: "c", user: "db" }],
      currentContext: "db",
    });
    const err = await checkTokenReviewAccess({ k8s: kube.k8s, kc }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(IdentityStartupError);
  });
});
