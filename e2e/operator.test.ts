// The operator on a real cluster, driven with kubectl as a user would: a Mesh becomes Ready,
// namespaces get meshed, opt-outs and invalid ServiceProfiles are explained, editing a profile's
// timeout changes what a meshed client sees, a meshed Job completes, a proxy that is a regular
// container holds the app until ready, a webhook outage never blocks pods, and deleting the Mesh
// leaves workloads running.
//
//   npx mocha --timeout 600000 e2e/operator.test.ts
// Installs Weft (hack/install.sh) when the operator is not there yet. Flows that need the proxy
// image skip with a message until hack/images builds docker.io/weft/proxy.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import {
  apply,
  createNamespace,
  getJson,
  kubeconfigPath,
  kubectl,
  kubectlOk,
  repoRoot,
  waitFor,
} from "./lib/cluster";

const MESH_READY_MS = 180_000;
const TESTAPP = "docker.io/weft/testapp:1";
/** The proxy image is on the node (imported by make images, or pulled once). */
async function proxyImageOnNode(): Promise<boolean> {
  const nodes = await getJson<{ items: { status: { images?: { names?: string[] }[] } }[] }>([
    "nodes",
  ]);
  const names = nodes.items.flatMap((n) => (n.status.images ?? []).flatMap((i) => i.names ?? []));
  return names.some((x) => x.includes("weft/proxy:"));
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, KUBECONFIG: kubeconfigPath() };
    execFile(
      cmd,
      args,
      { cwd: repoRoot, env, timeout: timeoutMs, maxBuffer: 1 << 24 },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`${cmd} ${args.join(" ")}: ${err.message}\n${stderr}`))
          : resolve(stdout),
    );
  });
}

function deployment(
  name: string,
  ns: string,
  replicas: number,
  podAnnotations: Record<string, string> = {},
): string {
  return JSON.stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations: podAnnotations },
        spec: {
          containers: [
            {
              name: "app",
              image: TESTAPP,
              ports: [{ name: "http", containerPort: 8080 }],
              readinessProbe: { httpGet: { path: "/", port: "http" }, periodSeconds: 2 },
            },
          ],
        },
      },
    },
  });
}

function barePod(name: string, ns: string, annotations: Record<string, string>): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns, annotations },
    spec: { containers: [{ name: "app", image: TESTAPP }] },
  });
}

type Pod = {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { initContainers?: { name: string }[]; containers: { name: string }[] };
  status: { conditions?: { type: string; status: string }[] };
};

const containerNames = (p: Pod): string[] =>
  [...(p.spec.initContainers ?? []), ...p.spec.containers].map((c) => c.name);
const hasProxy = (p: Pod): boolean => containerNames(p).includes("weft-proxy");
const podReady = (p: Pod): boolean =>
  p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

async function pods(ns: string, selector?: string): Promise<Pod[]> {
  const args = ["pods", "-n", ns, ...(selector ? ["-l", selector] : [])];
  return (await getJson<{ items: Pod[] }>(args)).items;
}

async function events(
  ns: string,
  reason: string,
): Promise<{ message: string; involvedObject: { name: string; kind: string } }[]> {
  return (
    await getJson<{
      items: { reason: string; message: string; involvedObject: { name: string; kind: string } }[];
    }>(["events", "-n", ns])
  ).items.filter((e) => e.reason === reason);
}

type ReplicaSet = {
  metadata: { annotations?: Record<string, string>; labels?: Record<string, string> };
};

async function replicaSets(ns: string, selector: string): Promise<ReplicaSet[]> {
  return (await getJson<{ items: ReplicaSet[] }>(["rs", "-n", ns, "-l", selector])).items;
}

const revision = (rs: ReplicaSet): number =>
  Number(rs.metadata.annotations?.["deployment.kubernetes.io/revision"] ?? 0);

async function newestTemplateHash(ns: string, selector: string): Promise<string | undefined> {
  const sets = (await replicaSets(ns, selector)).sort((a, b) => revision(b) - revision(a));
  return sets[0]?.metadata.labels?.["pod-template-hash"];
}

async function revisionOf(ns: string): Promise<number> {
  return Math.max(0, ...(await replicaSets(ns, "app=web")).map(revision));
}

async function meshReady(): Promise<void> {
  await kubectlOk(
    ["wait", "--for=condition=Ready", "mesh/weft", `--timeout=${MESH_READY_MS / 1000}s`],
    { timeoutMs: MESH_READY_MS + 10_000 },
  );
}

const DEMO = "docker.io/weft/demo:0.1.0";
/** An HTTP server whose /slow answers after one second and every other path at once. */
const SLOW_SERVER =
  "require('http').createServer((q, s) => setTimeout(() => s.end('ok\\n'), " +
  "q.url.startsWith('/slow') ? 1000 : 0)).listen(8080)";
/** One GET http://slow:8080/slow from inside a pod, printed as JSON with its status and time. */
const SLOW_REQUEST =
  "const t = Date.now(); require('http').get('http://slow:8080/slow', (r) => { r.resume(); " +
  "r.on('end', () => console.log(JSON.stringify({ status: r.statusCode, ms: Date.now() - t }))); })" +
  ".on('error', (e) => console.log(JSON.stringify({ status: 0, ms: Date.now() - t, error: e.message })))";

/** A meshed client pod (Node idling) and a Deployment + Service `slow` running SLOW_SERVER. */
function slowServerAndClient(ns: string): string {
  const node = (args: string[]): object => ({ name: "app", image: DEMO, args });
  const server = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "slow", namespace: ns },
    spec: {
      selector: { matchLabels: { app: "slow" } },
      template: {
        metadata: { labels: { app: "slow" } },
        spec: {
          containers: [
            {
              ...node(["-e", SLOW_SERVER]),
              ports: [{ name: "http", containerPort: 8080 }],
              readinessProbe: { httpGet: { path: "/", port: "http" }, periodSeconds: 2 },
            },
          ],
        },
      },
    },
  };
  const service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "slow", namespace: ns },
    spec: { selector: { app: "slow" }, ports: [{ name: "http", port: 8080, targetPort: "http" }] },
  };
  const client = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "client", namespace: ns },
    spec: { containers: [node(["-e", "setInterval(() => {}, 1 << 30)"])] },
  };
  return JSON.stringify({ apiVersion: "v1", kind: "List", items: [server, service, client] });
}

function slowProfile(ns: string, timeout: string): string {
  return JSON.stringify({
    apiVersion: "weft.io/v1alpha2",
    kind: "ServiceProfile",
    metadata: { name: `slow.${ns}.svc.cluster.local`, namespace: ns },
    spec: {
      routes: [{ name: "GET /slow", condition: { method: "GET", pathRegex: "/slow" }, timeout }],
    },
  });
}

async function requestSlow(ns: string): Promise<{ status: number; ms: number }> {
  const out = await kubectlOk([
    "-n",
    ns,
    "exec",
    "client",
    "-c",
    "app",
    "--",
    "node",
    "-e",
    SLOW_REQUEST,
  ]);
  return JSON.parse(out.trim().split("\n").pop() ?? "{}") as { status: number; ms: number };
}

/** Polls the request until its status is `status`; the profile reaches the proxy asynchronously. */
function requestUntil(ns: string, status: number): Promise<{ status: number; ms: number }> {
  return waitFor(
    `GET /slow to answer ${status}`,
    async () => {
      const r = await requestSlow(ns);
      return r.status === status ? r : undefined;
    },
    45_000,
    1000,
  );
}

async function meshedNamespace(prefix: string, cleanup: string[]): Promise<string> {
  const name = await createNamespace(prefix);
  cleanup.push(name);
  await kubectlOk(["annotate", "ns", name, "weft.io/inject=enabled"]);
  return name;
}

describe("operator (e2e)", function () {
  let ns = "";
  const extraNamespaces: string[] = [];

  before(async function () {
    if (!existsSync(kubeconfigPath())) {
      console.log(
        `      skipped: no cluster (${kubeconfigPath()} does not exist; run make cluster-up or set KUBECONFIG)`,
      );
      this.skip();
    }
    const installed = await kubectl(["-n", "pepr-system", "get", "deploy/pepr-weft-watcher"]);
    if (installed.code !== 0) await run("bash", ["hack/install.sh"], 480_000);
    ns = await createNamespace("weft-e2e-op");
  });

  after(async () => {
    for (const name of [ns, ...extraNamespaces].filter(Boolean)) {
      await kubectl(["delete", "namespace", name, "--wait=false"]);
    }
  });

  it("a Mesh applied with kubectl becomes Ready, and kubectl get meshes shows true columns", async () => {
    const started = Date.now();
    await kubectlOk(["apply", "-f", path.join(repoRoot, "config/samples/mesh.yaml")]);
    await meshReady();
    console.log(`      Mesh Ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const table = await kubectlOk(["get", "meshes"]);
    const [header, row] = table.trim().split("\n");
    expect(header.split(/\s+/)).to.deep.equal([
      "NAME",
      "READY",
      "VERSION",
      "MESHED",
      "MTLS",
      "AGE",
    ]);
    const cols = row.split(/\s+/);
    expect(cols[0]).to.equal("weft");
    expect(cols[1]).to.equal("True");
    expect(cols[2]).to.equal("0.1.0");
    expect(cols[3]).to.match(/^\d+\/\d+$/);
    const deploys = await getJson<{ items: { metadata: { name: string } }[] }>([
      "deploy",
      "-n",
      "weft-system",
    ]);
    expect(deploys.items.map((d) => d.metadata.name)).to.include.members([
      "weft-identity",
      "weft-destination",
    ]);
  });

  it("annotating a namespace and restarting meshes every pod", async () => {
    await apply(deployment("web", ns, 2), ns);
    await kubectlOk(["-n", ns, "rollout", "status", "deploy/web", "--timeout=120s"], {
      timeoutMs: 130_000,
    });
    expect((await pods(ns, "app=web")).some(hasProxy)).to.equal(false);
    await kubectlOk(["annotate", "ns", ns, "weft.io/inject=enabled"]);
    await kubectlOk(["-n", ns, "rollout", "restart", "deploy/web"]);
    // The pods of the restarted template; they finish rolling out once their proxies are ready.
    const meshed = await waitFor(
      "the restarted web pods to carry weft-proxy",
      async () => {
        const hash = await newestTemplateHash(ns, "app=web");
        const ps = hash ? await pods(ns, `app=web,pod-template-hash=${hash}`) : [];
        return hash && ps.length > 0 && ps.every(hasProxy) && (await revisionOf(ns)) > 1
          ? ps
          : undefined;
      },
      90_000,
    );
    expect(containerNames(meshed[0]).slice(0, 2)).to.deep.equal(["weft-init", "weft-proxy"]);
    expect(meshed[0].metadata.annotations?.["weft.io/trust-root-sha256"]).to.match(
      /^[0-9a-f]{64}$/,
    );
    expect((await events(ns, "Injected")).length).to.be.greaterThan(0);
  });

  it("meshed pods become Ready, their probes passing through the proxy", async function () {
    if (!(await proxyImageOnNode())) {
      console.log("      skipped: no docker.io/weft/proxy image on the node yet (make images)");
      this.skip();
    }
    await kubectlOk(["-n", ns, "rollout", "status", "deploy/web", "--timeout=180s"], {
      timeoutMs: 190_000,
    });
    const ready = await waitFor(
      "the old pods to be gone and every web pod meshed and Ready",
      async () => {
        const ps = await pods(ns, "app=web");
        return ps.length === 2 && ps.every((p) => hasProxy(p) && podReady(p)) ? ps : undefined;
      },
      60_000,
    );
    expect(ready.map(containerNames)[0]).to.include("weft-proxy");
  });

  it("weft.io/inject=disabled on a pod leaves it alone and an Event says why", async () => {
    await apply(barePod("optout", ns, { "weft.io/inject": "disabled" }), ns);
    const pod = await getJson<Pod>(["pod", "optout", "-n", ns]);
    expect(hasProxy(pod)).to.equal(false);
    const ev = await waitFor("an InjectionSkipped event for optout", async () => {
      const es = (await events(ns, "InjectionSkipped")).filter(
        (e) => e.involvedObject.name === "optout",
      );
      return es.length ? es[0] : undefined;
    });
    expect(ev.message).to.equal("weft.io/inject=disabled on the pod");
  });

  it("an invalid ServiceProfile is rejected naming the field; a valid one is accepted and gets a status", async () => {
    const sp = (timeout: string): string =>
      JSON.stringify({
        apiVersion: "weft.io/v1alpha2",
        kind: "ServiceProfile",
        metadata: { name: `web.${ns}.svc.cluster.local`, namespace: ns },
        spec: {
          routes: [{ name: "GET /", condition: { method: "GET", pathRegex: "/" }, timeout }],
        },
      });
    const bad = await kubectl(["apply", "-f", "-"], { input: sp("soon") });
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr).to.contain("spec.routes[0].timeout");
    await apply(sp("2s"), ns);
    const status = await waitFor("the ServiceProfile's Accepted condition", async () => {
      const obj = await getJson<{
        metadata: { generation: number };
        status?: { observedGeneration?: number; conditions?: { type: string; status: string }[] };
      }>(["serviceprofile", `web.${ns}.svc.cluster.local`, "-n", ns]);
      const ok =
        obj.status?.conditions?.some((c) => c.status === "True") &&
        obj.status.observedGeneration === obj.metadata.generation;
      return ok ? obj.status : undefined;
    });
    expect(status!.conditions!.length).to.be.greaterThan(0);
  });

  it("a meshed Job completes", async function () {
    if (!(await proxyImageOnNode())) {
      console.log("      skipped: no docker.io/weft/proxy image on the node yet (make images)");
      this.skip();
    }
    const job = {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "once", namespace: ns },
      spec: {
        backoffLimit: 0,
        template: {
          spec: {
            restartPolicy: "Never",
            containers: [
              {
                name: "once",
                image: TESTAPP,
                command: ["sh", "-c", "wget -qO- http://web:8080/ >/dev/null 2>&1; echo done"],
              },
            ],
          },
        },
      },
    };
    await apply(JSON.stringify(job), ns);
    await kubectlOk(["-n", ns, "wait", "--for=condition=Complete", "job/once", "--timeout=180s"], {
      timeoutMs: 190_000,
    });
  });

  it("editing a ServiceProfile timeout changes behaviour", async function () {
    if (!(await proxyImageOnNode())) {
      console.log("      skipped: no docker.io/weft/proxy image on the node yet (make images)");
      this.skip();
    }
    const spNs = await meshedNamespace("weft-e2e-sp", extraNamespaces);
    await apply(slowServerAndClient(spNs), spNs);
    await kubectlOk(
      ["-n", spNs, "wait", "--for=condition=Ready", "pod", "--all", "--timeout=120s"],
      {
        timeoutMs: 130_000,
      },
    );
    await kubectlOk(["-n", spNs, "rollout", "status", "deploy/slow", "--timeout=60s"]);
    const plain = await requestUntil(spNs, 200);
    expect(plain.ms).to.be.at.least(1000);
    await apply(slowProfile(spNs, "300ms"), spNs);
    const timedOut = await requestUntil(spNs, 504);
    console.log(`      timeout 300ms: 504 after ${timedOut.ms} ms`);
    expect(timedOut.ms).to.be.within(280, 900);
    await apply(slowProfile(spNs, "3s"), spNs);
    const ok = await requestUntil(spNs, 200);
    console.log(`      timeout 3s: 200 after ${ok.ms} ms`);
    expect(ok.ms).to.be.within(1000, 2900);
  });

  it("with native sidecars off, the proxy is the first container and its await hook holds the app until ready", async function () {
    if (!(await proxyImageOnNode())) {
      console.log("      skipped: no docker.io/weft/proxy image on the node yet (make images)");
      this.skip();
    }
    const awaitNs = await meshedNamespace("weft-e2e-await", extraNamespaces);
    // The app records what the proxy's /ready said the moment it started.
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: "held",
        namespace: awaitNs,
        annotations: { "config.weft.io/proxy-enable-native-sidecar": "false" },
      },
      spec: {
        containers: [
          {
            name: "app",
            image: TESTAPP,
            command: [
              "sh",
              "-c",
              "wget -qO /tmp/ready http://127.0.0.1:4191/ready; exec /bin/serve",
            ],
            ports: [{ name: "http", containerPort: 8080 }],
            readinessProbe: { httpGet: { path: "/", port: "http" }, periodSeconds: 2 },
          },
        ],
      },
    };
    await apply(JSON.stringify(pod), awaitNs);
    await kubectlOk(
      ["-n", awaitNs, "wait", "--for=condition=Ready", "pod/held", "--timeout=120s"],
      {
        timeoutMs: 130_000,
      },
    );
    const held = await getJson<
      Pod & { spec: { containers: { name: string; lifecycle?: unknown }[] } }
    >(["pod", "held", "-n", awaitNs]);
    expect(held.spec.initContainers?.map((c) => c.name)).to.deep.equal(["weft-init"]);
    expect(held.spec.containers.map((c) => c.name)).to.deep.equal(["weft-proxy", "app"]);
    expect(held.spec.containers[0].lifecycle).to.deep.equal({
      postStart: { exec: { command: ["weft-proxy", "await", "--timeout=2m"] } },
    });
    const atStart = await kubectlOk([
      "-n",
      awaitNs,
      "exec",
      "held",
      "-c",
      "app",
      "--",
      "cat",
      "/tmp/ready",
    ]);
    expect(atStart).to.equal("ready\n");
    expect(await events(awaitNs, "FailedPostStartHook")).to.have.length(0);
  });

  it("with the webhook unreachable, new pods are still created (uninjected, with an Event)", async () => {
    await kubectlOk(["-n", "pepr-system", "scale", "deploy/pepr-weft", "--replicas=0"]);
    try {
      await waitFor("the admission pods to be gone", async () => {
        const r = await getJson<{ items: unknown[] }>([
          "pods",
          "-n",
          "pepr-system",
          "-l",
          "pepr.dev/controller=admission",
        ]);
        return r.items.length === 0 ? true : undefined;
      });
      const started = Date.now();
      await apply(barePod("during-outage", ns, {}), ns);
      console.log(`      pod admitted during the outage in ${Date.now() - started} ms`);
      expect(hasProxy(await getJson<Pod>(["pod", "during-outage", "-n", ns]))).to.equal(false);
      const ev = await waitFor(
        "the watcher's InjectionSkipped event",
        async () =>
          (await events(ns, "InjectionSkipped")).find(
            (e) => e.involvedObject.name === "during-outage",
          ),
        60_000,
      );
      expect(ev.message).to.contain("did not process this pod");
    } finally {
      await kubectlOk(["-n", "pepr-system", "scale", "deploy/pepr-weft", "--replicas=2"]);
      await kubectlOk(
        ["-n", "pepr-system", "rollout", "status", "deploy/pepr-weft", "--timeout=120s"],
        { timeoutMs: 130_000 },
      );
    }
  });

  it("deleting the Mesh removes the control plane and leaves workloads running", async () => {
    const before = (await pods(ns, "app=web")).map((p) => p.metadata.name).sort();
    await kubectlOk(["delete", "mesh", "weft", "--timeout=120s"], { timeoutMs: 130_000 });
    await waitFor("weft-system to hold no Weft deployments", async () => {
      const d = await getJson<{ items: unknown[] }>([
        "deploy",
        "-n",
        "weft-system",
        "-l",
        "app.kubernetes.io/managed-by=weft-operator",
      ]);
      return d.items.length === 0 ? true : undefined;
    });
    const roles = await getJson<{ items: unknown[] }>([
      "clusterroles",
      "-l",
      "app.kubernetes.io/managed-by=weft-operator",
    ]);
    expect(roles.items).to.have.length(0);
    const after = (await pods(ns, "app=web")).map((p) => p.metadata.name).sort();
    expect(after).to.deep.equal(before);
  });

  after(async function () {
    // Leave a Mesh behind for whoever uses the cluster next.
    if (!existsSync(kubeconfigPath())) return;
    await kubectl(["apply", "-f", path.join(repoRoot, "config/samples/mesh.yaml")]);
  });
});
