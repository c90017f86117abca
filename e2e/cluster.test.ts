// The local cluster (hack/cluster) does what Weft needs from Kubernetes: scheduling and
// networking of locally built images, Services and DNS, Jobs with native sidecars, kubectl's
// streaming commands, admission webhooks on the host and behind a Service, namespace
// deletion, and audience-bound service-account tokens.
//
// Run against a cluster from `make cluster-up` (or any cluster via KUBECONFIG):
//   npx mocha --no-config --require tsx/cjs --timeout 180000 e2e/cluster.test.ts
import { expect } from "chai";
import http from "node:http";
import path from "node:path";
import {
  apply,
  createNamespace,
  getJson,
  kubectl,
  kubectlBackground,
  kubeconfigPath,
  kubectlOk,
  pinnedKubernetesVersion,
  repoRoot,
  waitFor,
  waitForOutput,
} from "./lib/cluster";
import { selfSignedCert, startWebhook, type WebhookServer } from "./lib/webhook";
import { canCreateOutsideHost, createOutsideHost, guardDrops, localPodCidr } from "./lib/outside";

const IMAGE = "docker.io/weft/testapp:1";

function podYaml(name: string, spec: string, labels = "{}"): string {
  return `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: ${labels}}
spec:
  terminationGracePeriodSeconds: 1
${spec}`;
}

/** A pod that sleeps, for running commands in with kubectl exec. */
function sleeperYaml(name: string): string {
  return podYaml(
    name,
    `  containers:
  - {name: main, image: ${IMAGE}, imagePullPolicy: Never, command: [sleep, "3600"]}`,
  );
}

async function waitPodReady(ns: string, pod: string, timeoutSeconds = 90): Promise<void> {
  await kubectlOk(
    ["-n", ns, "wait", "--for=condition=Ready", `pod/${pod}`, `--timeout=${timeoutSeconds}s`],
    {
      timeoutMs: (timeoutSeconds + 10) * 1000,
    },
  );
}

async function exec(ns: string, pod: string, command: string[]): Promise<string> {
  return kubectlOk(["-n", ns, "exec", pod, "--", ...command], { timeoutMs: 60_000 });
}

/** Fetches url `times` times from inside a pod; returns the distinct bodies (hostnames). */
async function fetchFromPod(
  ns: string,
  pod: string,
  url: string,
  times: number,
): Promise<Set<string>> {
  // busybox's own `wget -T` crashes (Debian 1.35 static); its `timeout` bounds each request instead.
  const script = `for i in $(seq 1 ${times}); do timeout 3 wget -q -O - ${url} || echo FAILED; done`;
  const out = await exec(ns, pod, ["sh", "-c", script]);
  return new Set(out.split("\n").filter((line) => line.length > 0));
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 5000 }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve(body));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
  });
}

async function jobSucceeded(ns: string, job: string, timeoutSeconds: number): Promise<void> {
  await kubectlOk(
    ["-n", ns, "wait", "--for=condition=Complete", `job/${job}`, `--timeout=${timeoutSeconds}s`],
    {
      timeoutMs: (timeoutSeconds + 10) * 1000,
    },
  );
}

describe("local cluster", function () {
  this.timeout(180_000);
  let ns: string;

  before(async function () {
    const probe = await kubectl(["get", "--raw", "/readyz"], { timeoutMs: 15_000 });
    if (probe.code !== 0) {
      throw new Error(
        `no cluster reachable (run make cluster-up, or set KUBECONFIG): ${probe.stderr.trim()}`,
      );
    }
    ns = await createNamespace("weft-e2e");
  });

  after(async function () {
    if (ns) await kubectl(["delete", "namespace", ns, "--wait=false"]);
  });

  it("has a Ready node running the pinned Kubernetes version", async function () {
    const nodes = await getJson<{ items: any[] }>(["nodes"]);
    expect(nodes.items).to.have.length(1);
    const readiness = async (): Promise<any> =>
      (await getJson(["node", nodes.items[0].metadata.name])).status.conditions.find(
        (c: any) => c.type === "Ready",
      );
    // A node just restarted may report a stale status for one heartbeat; allow a bounded wait.
    const ready = await waitFor(
      "the node to be Ready",
      async () => {
        const condition = await readiness();
        return condition.status === "True" ? condition : undefined;
      },
      45_000,
    ).catch(async () => readiness());
    expect(ready.status, ready.message).to.equal("True");

    const version = JSON.parse(await kubectlOk(["version", "-o", "json"]));
    expect(version.serverVersion.gitVersion).to.equal(pinnedKubernetesVersion());
    expect(version.clientVersion.gitVersion).to.equal(pinnedKubernetesVersion());
    expect(nodes.items[0].status.nodeInfo.kubeletVersion).to.equal(pinnedKubernetesVersion());
  });

  describe("a Deployment of a locally built image behind a Service", function () {
    let pods: string[];

    /** Every hostname that answered url from the client pod, sampled until both replicas
     * answered or 30 s passed; any failed request shows up as "FAILED". */
    async function reachReplicas(url: string): Promise<Set<string>> {
      const seen = new Set<string>();
      await waitFor(
        "both replicas to answer",
        async () => {
          for (const body of await fetchFromPod(ns, "client", url, 10)) seen.add(body);
          return pods.every((p) => seen.has(p)) ? true : undefined;
        },
        30_000,
        500,
      ).catch(() => undefined);
      return seen;
    }

    before(async function () {
      await apply(
        `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: ${IMAGE}
        imagePullPolicy: Never
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`,
        ns,
      );
      await apply(sleeperYaml("client"), ns);
      await kubectlOk(["-n", ns, "rollout", "status", "deploy/web", "--timeout=90s"], {
        timeoutMs: 100_000,
      });
      await waitFor(
        "the Service's EndpointSlice to list both replicas as ready",
        async () => {
          const slices = await getJson<{ items: any[] }>([
            "-n",
            ns,
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=web",
          ]);
          const ready = slices.items
            .flatMap((s) => s.endpoints ?? [])
            .filter((e: any) => e.conditions?.ready);
          return ready.length === 2 ? true : undefined;
        },
        60_000,
      );
      await waitPodReady(ns, "client");
      const list = await getJson<{ items: any[] }>(["-n", ns, "pods", "-l", "app=web"]);
      pods = list.items.map((p) => p.metadata.name as string);
    });

    it("runs two Ready replicas", async function () {
      const list = await getJson<{ items: any[] }>(["-n", ns, "pods", "-l", "app=web"]);
      expect(list.items).to.have.length(2);
      for (const pod of list.items) {
        expect(pod.status.phase).to.equal("Running");
        expect(pod.status.containerStatuses[0].ready).to.equal(true);
      }
    });

    it("reaches both replicas from a third pod by ClusterIP", async function () {
      const svc = await getJson(["-n", ns, "service", "web"]);
      const url = `http://${svc.spec.clusterIP}/`;
      // kube-proxy programs a new Service within its sync period; allow that first.
      await waitFor(
        "kube-proxy to program the Service",
        async () => {
          const once = await fetchFromPod(ns, "client", url, 1);
          return once.has("FAILED") ? undefined : true;
        },
        30_000,
        1000,
      );
      expect([...(await reachReplicas(url))].sort()).to.deep.equal([...pods].sort());
    });

    it("reaches both replicas from a third pod by DNS name", async function () {
      const url = `http://web.${ns}.svc.cluster.local/`;
      expect([...(await reachReplicas(url))].sort()).to.deep.equal([...pods].sort());
    });

    it("serves kubectl logs, exec and port-forward", async function () {
      const pod = pods[0];
      expect((await exec(ns, pod, ["hostname"])).trim()).to.equal(pod);

      await exec(ns, "client", [
        "wget",
        "-q",
        "-O",
        "/dev/null",
        `http://web.${ns}.svc.cluster.local/`,
      ]);
      await apply(
        podYaml(
          "talker",
          `  restartPolicy: Never
  containers:
  - {name: main, image: ${IMAGE}, imagePullPolicy: Never, command: [sh, -c, "echo hello from the logs"]}`,
        ),
        ns,
      );
      const logs = await waitFor("talker's logs", async () => {
        const r = await kubectl(["-n", ns, "logs", "talker"]);
        return r.code === 0 && r.stdout.includes("hello") ? r.stdout : undefined;
      });
      expect(logs.trim()).to.equal("hello from the logs");

      const forward = kubectlBackground(["-n", ns, "port-forward", `pod/${pod}`, ":8080"]);
      try {
        const match = await waitForOutput(forward, /Forwarding from 127\.0\.0\.1:(\d+)/);
        expect((await httpGet(`http://127.0.0.1:${match[1]}/`)).trim()).to.equal(pod);
      } finally {
        forward.kill();
      }
    });
  });

  it("completes a Job", async function () {
    await apply(
      `
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: main, image: ${IMAGE}, imagePullPolicy: Never, command: [sh, -c, "echo done"]}
`,
      ns,
    );
    await jobSucceeded(ns, "once", 90);
    expect((await kubectlOk(["-n", ns, "logs", "job/once"])).trim()).to.equal("done");
  });

  it("runs an init container, then a native sidecar, then the main container, and completes the Job", async function () {
    await apply(
      `
apiVersion: batch/v1
kind: Job
metadata: {name: ordered}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      volumes: [{name: shared, emptyDir: {}}]
      initContainers:
      - name: init
        image: ${IMAGE}
        imagePullPolicy: Never
        command: [sh, -c, "echo init >> /shared/order"]
        volumeMounts: [{name: shared, mountPath: /shared}]
      - name: sidecar
        image: ${IMAGE}
        imagePullPolicy: Never
        restartPolicy: Always
        command: [sh, -c, "echo sidecar >> /shared/order; exec sleep 3600"]
        startupProbe: {exec: {command: [grep, -q, sidecar, /shared/order]}, periodSeconds: 1}
        volumeMounts: [{name: shared, mountPath: /shared}]
      containers:
      - name: main
        image: ${IMAGE}
        imagePullPolicy: Never
        command: [sh, -c, "echo main >> /shared/order; cat /shared/order | tr '\\\\n' ' '"]
        volumeMounts: [{name: shared, mountPath: /shared}]
`,
      ns,
    );
    await jobSucceeded(ns, "ordered", 120);
    const order = await kubectlOk(["-n", ns, "logs", "job/ordered", "-c", "main"]);
    expect(order.trim()).to.equal("init sidecar main");
  });

  describe("admission webhooks", function () {
    const servers: WebhookServer[] = [];
    const configs: string[] = [];

    after(async function () {
      for (const name of configs) await kubectl(["delete", name, "--ignore-not-found"]);
      for (const server of servers) await server.close();
    });

    it("calls a mutating webhook served from the host at https://localhost:PORT", async function () {
      const tls = selfSignedCert(["localhost"], ["127.0.0.1"]);
      const server = await startWebhook(tls, () => ({
        allowed: true,
        patch: [{ op: "add", path: "/metadata/labels/weft.io~1mutated-by", value: "host-webhook" }],
      }));
      servers.push(server);
      const name = `${ns}-mutate`;
      await apply(`
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: ${name}}
webhooks:
- name: mutate.e2e.weft.io
  clientConfig: {url: "https://localhost:${server.port}/mutate", caBundle: ${tls.caBundle}}
  rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ${ns}}}
  objectSelector: {matchLabels: {e2e: mutate-me}}
  failurePolicy: Fail
  sideEffects: None
  admissionReviewVersions: [v1]
  timeoutSeconds: 5
`);
      configs.push(`mutatingwebhookconfiguration/${name}`);

      await waitFor(
        "the mutating webhook to be in effect",
        async () => {
          const pod = `mutated-${Date.now()}`;
          await apply(
            podYaml(
              pod,
              `  containers:\n  - {name: main, image: ${IMAGE}, imagePullPolicy: Never}`,
              "{e2e: mutate-me}",
            ),
            ns,
          );
          const labels = (await getJson(["-n", ns, "pod", pod])).metadata.labels;
          return labels["weft.io/mutated-by"] === "host-webhook" ? true : undefined;
        },
        30_000,
        1000,
      );
      expect(
        server.requests.some((r) => r.kind.kind === "Pod" && r.operation === "CREATE"),
      ).to.equal(true);
    });

    it("rejects through a validating webhook behind a Service, showing its message", async function () {
      const nodeIp = (await getJson(["nodes"])).items[0].status.addresses.find(
        (a: any) => a.type === "InternalIP",
      ).address;
      const tls = selfSignedCert([`webhook.${ns}.svc`], []);
      const server = await startWebhook(
        tls,
        (request) => {
          const labels = request.object?.metadata?.labels ?? {};
          if (labels["e2e"] !== "reject-me") return { allowed: true };
          return { allowed: false, message: `weft-e2e says no to ${request.name}` };
        },
        nodeIp,
      );
      servers.push(server);
      // The Service's endpoint is this host's address on the pod bridge, where the test listens.
      await apply(
        `
apiVersion: v1
kind: Service
metadata: {name: webhook}
spec:
  ports: [{port: 443, targetPort: ${server.port}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: webhook-host, labels: {kubernetes.io/service-name: webhook}}
addressType: IPv4
endpoints: [{addresses: ["${nodeIp}"]}]
ports: [{port: ${server.port}, protocol: TCP}]
`,
        ns,
      );
      const name = `${ns}-validate`;
      await apply(`
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: ${name}}
webhooks:
- name: validate.e2e.weft.io
  clientConfig: {service: {namespace: ${ns}, name: webhook, path: /validate}, caBundle: ${tls.caBundle}}
  rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}]
  namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ${ns}}}
  failurePolicy: Fail
  sideEffects: None
  admissionReviewVersions: [v1]
  timeoutSeconds: 5
`);
      configs.push(`validatingwebhookconfiguration/${name}`);

      const rejected = await waitFor(
        "the validating webhook to reject",
        async () => {
          const r = await kubectl(["-n", ns, "apply", "-f", "-"], {
            input: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bad-${Date.now()}","labels":{"e2e":"reject-me"}}}`,
          });
          return r.code !== 0 && r.stderr.includes("weft-e2e says no") ? r.stderr : undefined;
        },
        30_000,
        1000,
      );
      expect(rejected).to.match(
        /admission webhook "validate.e2e.weft.io" denied the request: weft-e2e says no to bad-\d+/,
      );
      await apply(
        `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"good","labels":{"e2e":"fine"}}}`,
        ns,
      );
      expect(server.requests.map((r) => r.name)).to.include("good");
    });
  });

  it("finishes deleting a namespace with workloads in it", async function () {
    const doomed = await createNamespace("weft-e2e-doomed");
    await apply(sleeperYaml("victim"), doomed);
    await apply(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"data"}}`, doomed);
    await waitPodReady(doomed, "victim");
    await kubectlOk(["delete", "namespace", doomed, "--timeout=90s"], { timeoutMs: 100_000 });
    const gone = await kubectl(["get", "namespace", doomed]);
    expect(gone.code).to.not.equal(0);
    expect(gone.stderr).to.include("NotFound");
  });

  it("accepts a projected service-account token in a TokenReview for its audience only", async function () {
    await apply(
      podYaml(
        "token-holder",
        `  containers:
  - name: main
    image: ${IMAGE}
    imagePullPolicy: Never
    command: [sleep, "3600"]
    volumeMounts: [{name: token, mountPath: /var/run/weft-token}]
  volumes:
  - name: token
    projected:
      sources:
      - serviceAccountToken: {audience: weft-e2e-audience, expirationSeconds: 600, path: token}`,
      ),
      ns,
    );
    await waitPodReady(ns, "token-holder");
    const token = (await exec(ns, "token-holder", ["cat", "/var/run/weft-token/token"])).trim();
    const review = (audience: string) =>
      kubectlOk(["create", "-o", "json", "-f", "-"], {
        input: JSON.stringify({
          apiVersion: "authentication.k8s.io/v1",
          kind: "TokenReview",
          spec: { token, audiences: [audience] },
        }),
      }).then((out) => JSON.parse(out).status);

    const accepted = await review("weft-e2e-audience");
    expect(accepted.authenticated).to.equal(true);
    expect(accepted.audiences).to.deep.equal(["weft-e2e-audience"]);
    expect(accepted.user.username).to.equal(`system:serviceaccount:${ns}:default`);

    const wrongAudience = await review("someone-else");
    expect(wrongAudience.authenticated ?? false).to.equal(false);
  });

  it("drops pod traffic to an address outside the cluster that this host itself reaches", async function () {
    // Needs the local cluster (its FORWARD guard) and root to stand up the "outside" namespace.
    const local = kubeconfigPath() === path.join(repoRoot, ".cluster", "kubeconfig");
    if (!local || !canCreateOutsideHost()) this.skip();
    await apply(sleeperYaml("prober"), ns);
    await waitPodReady(ns, "prober");
    const outside = createOutsideHost();
    try {
      const url = `http://${outside.address}:${outside.port}/`;
      await waitFor(
        "the outside host to answer this host",
        async () => ((await httpGet(url)).trim() === "outside" ? true : undefined),
        10_000,
      );
      const podCidr = localPodCidr(repoRoot);
      const before = guardDrops(podCidr);
      const seen = await fetchFromPod(ns, "prober", url, 1);
      expect([...seen]).to.deep.equal(["FAILED"]);
      expect(guardDrops(podCidr)).to.be.greaterThan(before);
    } finally {
      outside.remove();
    }
  });
});
