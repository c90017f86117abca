// The CRDs on a real API server: they install, kubectl explain describes them, defaults and
// CEL rules apply, unknown fields are rejected, printer columns show.
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { apply, createNamespace, kubectl, kubectlOk, repoRoot, waitFor } from "./lib/cluster";

const MESH_NAME = "weft-e2e-crds";

function meshYaml(spec: string): string {
  return `apiVersion: weft.io/v1alpha1\nkind: Mesh\nmetadata:\n  name: ${MESH_NAME}\nspec:\n${spec}`;
}

function profileYaml(name: string, spec: string): string {
  return `apiVersion: weft.io/v1alpha2\nkind: ServiceProfile\nmetadata:\n  name: ${name}\nspec:\n${spec}`;
}

/** Server-side dry run: the API server validates and defaults, nothing is stored. */
async function dryRun(
  manifest: string,
  namespace?: string,
): Promise<{ code: number | null; out: string }> {
  const ns = namespace ? ["-n", namespace] : [];
  const r = await kubectl([...ns, "apply", "--dry-run=server", "-o", "json", "-f", "-"], {
    input: manifest,
  });
  return { code: r.code, out: r.code === 0 ? r.stdout : r.stderr };
}

describe("CRDs on the API server", function () {
  this.timeout(120_000);
  let ns: string;

  before(async function () {
    const probe = await kubectl(["get", "--raw", "/readyz"], { timeoutMs: 15_000 });
    if (probe.code !== 0)
      throw new Error(`no cluster reachable (run make cluster-up): ${probe.stderr.trim()}`);
    await kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", join(repoRoot, "crds")]);
    await kubectlOk([
      "wait",
      "--for=condition=Established",
      "--timeout=60s",
      "crd/meshes.weft.io",
      "crd/serviceprofiles.weft.io",
    ]);
    ns = await createNamespace("weft-e2e-crds");
  });

  after(async function () {
    if (ns) await kubectl(["delete", "namespace", ns, "--wait=false"]);
  });

  it("kubectl explain describes the fields", async function () {
    // The API server publishes a new CRD's OpenAPI a moment after it is Established.
    const out = await waitFor("the Mesh schema in kubectl explain", async () => {
      const r = await kubectl(["explain", "mesh.spec.identity.issuanceLifetime"]);
      return r.code === 0 ? r.stdout : undefined;
    });
    expect(out).to.contain("How long a proxy's leaf certificate is valid");
    const sp = await kubectlOk(["explain", "sp.spec.retryBudget.retryRatio"]);
    expect(sp).to.contain("Retries allowed per original request");
  });

  it("fills the Mesh defaults", async function () {
    // The operator's webhook admits one Mesh per cluster; with one installed, defaults were
    // already proven on it.
    const existing = JSON.parse(await kubectlOk(["get", "meshes", "-o", "json"])).items;
    if (existing.length > 0) this.skip();
    const r = await dryRun(meshYaml("  version: 0.1.0\n"));
    expect(r.code, r.out).to.equal(0);
    const spec = JSON.parse(r.out).spec;
    expect(spec.trustDomain).to.equal("cluster.local");
    expect(spec.identity).to.include({ issuanceLifetime: "24h", clockSkewAllowance: "20s" });
    expect(spec.proxy).to.include({ nativeSidecar: true, logFormat: "plain" });
    expect(spec.components.heartbeat.enabled).to.equal(false);
    expect(spec.components.destination.replicas).to.equal(1);
  });

  it("accepts the samples", async function () {
    const mesh = await kubectl([
      "apply",
      "--dry-run=server",
      "-f",
      join(repoRoot, "config/samples/mesh.yaml"),
    ]);
    expect(mesh.code, mesh.stderr).to.equal(0);
    const sample = readFileSync(join(repoRoot, "config/samples/serviceprofile.yaml"), "utf8");
    const sp = await dryRun(sample.replace("namespace: demo", `namespace: ${ns}`), ns);
    expect(sp.code, sp.out).to.equal(0);
  });

  it("rejects a bundled and an external Prometheus together, with the CEL message", async function () {
    const r = await dryRun(
      meshYaml(
        "  components:\n    prometheus:\n      enabled: true\n      externalURL: http://prom:9090\n",
      ),
    );
    expect(r.code).to.not.equal(0);
    expect(r.out).to.contain("set enabled: false when using externalURL");
  });

  it("rejects an issuance lifetime under a minute and a skew longer than the lifetime", async function () {
    const short = await dryRun(
      meshYaml("  identity:\n    issuanceLifetime: 30s\n    clockSkewAllowance: 1s\n"),
    );
    expect(short.out).to.contain("identity.issuanceLifetime must be between 1m and 8760h");
    const skew = await dryRun(
      meshYaml("  identity:\n    issuanceLifetime: 1h\n    clockSkewAllowance: 2h\n"),
    );
    expect(skew.out).to.contain("clockSkewAllowance must be shorter");
  });

  it("rejects an unknown ServiceProfile field, naming it", async function () {
    const r = await dryRun(
      profileYaml(
        "web.shop.svc.cluster.local",
        "  routes:\n  - name: r\n    condition: {method: GET}\n    retries: 3\n",
      ),
      ns,
    );
    expect(r.code).to.not.equal(0);
    expect(r.out).to.match(/unknown field "spec\.routes\[0\]\.retries"/);
  });

  it("rejects a status range past 599 and an empty condition", async function () {
    const status = await dryRun(
      profileYaml(
        "web.shop.svc.cluster.local",
        "  routes:\n  - name: r\n    condition: {method: GET}\n    responseClasses:\n    - condition: {status: {min: 500, max: 600}}\n",
      ),
      ns,
    );
    expect(status.out).to.contain("spec.routes[0].responseClasses[0].condition.status.max");
    const empty = await dryRun(
      profileYaml("web.shop.svc.cluster.local", "  routes:\n  - name: r\n    condition: {}\n"),
      ns,
    );
    expect(empty.out).to.contain("spec.routes[0].condition");
  });

  it("rejects a ServiceProfile whose name is not a DNS-1123 subdomain", async function () {
    const r = await dryRun(profileYaml("Web_Service", "  routes: []\n"), ns);
    expect(r.code).to.not.equal(0);
    expect(r.out).to.contain("metadata.name must be the service's FQDN");
  });

  it("shows ROUTES and RETRY-RATIO, and takes status through the subresource", async function () {
    await apply(
      profileYaml(
        "web.shop.svc.cluster.local",
        "  routes:\n  - name: get-books\n    condition: {method: GET}\n  retryBudget: {retryRatio: 0.2, minRetriesPerSecond: 10, ttl: 10s}\n",
      ),
      ns,
    );
    const table = await kubectlOk(["-n", ns, "get", "sp"]);
    expect(table.split("\n")[0]).to.match(/NAME\s+ROUTES\s+RETRY-RATIO\s+AGE/);
    expect(table).to.match(/web\.shop\.svc\.cluster\.local\s+get-books\s+0\.2/);
    const status =
      '{"status":{"observedGeneration":1,"conditions":[{"type":"Accepted","status":"True","reason":"Valid","message":"ok","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}';
    await kubectlOk([
      "-n",
      ns,
      "patch",
      "sp",
      "web.shop.svc.cluster.local",
      "--subresource=status",
      "--type=merge",
      "-p",
      status,
    ]);
    const got = JSON.parse(
      await kubectlOk(["-n", ns, "get", "sp", "web.shop.svc.cluster.local", "-o", "json"]),
    );
    expect(got.status.conditions[0].type).to.equal("Accepted");
  });
});
