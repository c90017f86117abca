// The destination service against a real API server: endpoints follow a Deployment as it
// scales, and ServiceProfile edits reach open GetProfile streams. The service runs in this
// process, watching the cluster through kubernetes-fluent-client, serving gRPC on 127.0.0.1.
//
// Run against a cluster from `make cluster-up` (or any cluster via KUBECONFIG):
//   npx mocha --no-config --require tsx/cjs --timeout 300000 e2e/destination.test.ts
// Without a kubeconfig the suite is skipped, saying so.
import { expect } from "chai";
import { existsSync } from "node:fs";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { DestinationClient, type DestinationProfile, type Update } from "../api/gen/destination";
import { addressKey } from "../operator/destination/address";
import {
  DEFAULT_OPTIONS,
  startDestination,
  type RunningDestination,
} from "../operator/destination/main";
import { KubernetesWatchSource } from "../operator/destination/watch";
import {
  apply,
  createNamespace,
  kubeconfigPath,
  kubectl,
  kubectlOk,
  repoRoot,
  waitFor,
} from "./lib/cluster";

const IMAGE = "docker.io/weft/testapp:1";

function deployment(name: string, replicas: number): string {
  return `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: ${IMAGE}
        imagePullPolicy: Never
        command: [sleep, "3600"]
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  selector: {app: ${name}}
  ports: [{name: http, port: 80, targetPort: http}]
`;
}

function profile(name: string, ns: string, route: string): string {
  return `
apiVersion: weft.io/v1alpha2
kind: ServiceProfile
metadata: {name: ${name}.${ns}.svc.cluster.local, namespace: ${ns}}
spec:
  routes:
  - name: ${route}
    condition: {method: GET, pathRegex: /books/.*}
    isRetryable: true
    timeout: 300ms
`;
}

/** The address set implied by a stream's updates so far, with the time of each change. */
class EndpointsStream {
  readonly addrs = new Set<string>();
  readonly changes: { at: number; size: number }[] = [];
  constructor(stream: grpc.ClientReadableStream<Update>) {
    stream.on("data", (u: Update) => {
      const up = u.update;
      if (up?.$case === "add") up.add.addrs.forEach((a) => this.addrs.add(addressKey(a.addr)));
      if (up?.$case === "remove") up.remove.addrs.forEach((a) => this.addrs.delete(addressKey(a)));
      if (up?.$case === "noEndpoints") this.addrs.clear();
      this.changes.push({ at: performance.now(), size: this.addrs.size });
    });
    stream.on("error", () => undefined);
  }
  firstAt(size: number, after: number): number | undefined {
    return this.changes.find((c) => c.at >= after && c.size === size)?.at;
  }
}

/** When the API server's own watch first showed `n` ready endpoints for the service. */
class SliceClock {
  readonly seen: { at: number; ready: number }[] = [];
  private stop: (() => void) | undefined;
  async start(ns: string, service: string): Promise<void> {
    const { K8s, kind } = await import("kubernetes-fluent-client");
    const w = K8s(kind.EndpointSlice, {
      namespace: ns,
      labels: { "kubernetes.io/service-name": service },
    }).Watch((slice) => {
      const ready = (slice.endpoints ?? []).filter(
        (e) => e.conditions?.ready !== false && e.conditions?.terminating !== true,
      ).length;
      this.seen.push({ at: performance.now(), ready });
    });
    await w.start();
    this.stop = () => w.close();
  }
  firstAt(ready: number, after: number): number | undefined {
    return this.seen.find((s) => s.at >= after && s.ready === ready)?.at;
  }
  close(): void {
    this.stop?.();
  }
}

describe("destination against the API server", function () {
  this.timeout(300_000);
  let ns = "";
  let dest: RunningDestination | undefined;
  let client: DestinationClient | undefined;
  const clock = new SliceClock();

  before(async function () {
    if (!existsSync(kubeconfigPath())) {
      console.log(
        `    skipped: no kubeconfig at ${kubeconfigPath()} (start the local cluster with make cluster-up, or set KUBECONFIG)`,
      );
      this.skip();
    }
    const ready = await kubectl(["get", "--raw", "/readyz"], { timeoutMs: 10_000 });
    if (ready.code !== 0) {
      console.log(
        `    skipped: the API server of ${kubeconfigPath()} is not answering (${ready.stderr.trim()})`,
      );
      this.skip();
    }
    process.env.KUBECONFIG = kubeconfigPath();
    const crd = await kubectl(["get", "crd", "serviceprofiles.weft.io"]);
    if (crd.code !== 0)
      await kubectlOk(["apply", "-f", path.join(repoRoot, "crds", "serviceprofiles.weft.io.yaml")]);
    await kubectlOk([
      "wait",
      "--for=condition=Established",
      "crd/serviceprofiles.weft.io",
      "--timeout=60s",
    ]);
    ns = await createNamespace("weft-dest");
    await apply(deployment("web", 1), ns);
    dest = await startDestination(
      { ...DEFAULT_OPTIONS, addr: "127.0.0.1:0" },
      new KubernetesWatchSource(),
    );
    client = new DestinationClient(`127.0.0.1:${dest.port}`, grpc.credentials.createInsecure());
    await clock.start(ns, "web");
  });

  after(async () => {
    clock.close();
    client?.close();
    await dest?.stop();
    if (ns) await kubectl(["delete", "namespace", ns, "--wait=false"]);
  });

  it("adds and removes endpoints on open streams within a second of the EndpointSlice change", async () => {
    const s = new EndpointsStream(
      client!.get({ scheme: "k8s", path: `web.${ns}.svc.cluster.local:80`, contextToken: "" }),
    );
    await waitFor(
      "one endpoint on the stream",
      async () => (s.addrs.size === 1 ? true : undefined),
      120_000,
      100,
    );
    expect([...s.addrs][0]).to.match(/:8080$/);
    for (const replicas of [3, 1]) {
      const t0 = performance.now();
      await kubectlOk(["-n", ns, "scale", "deployment/web", `--replicas=${replicas}`]);
      await waitFor(
        `${replicas} endpoints on the stream`,
        async () => (s.addrs.size === replicas ? true : undefined),
        120_000,
        50,
      );
      const onStream = s.firstAt(replicas, t0)!;
      const inSlice = clock.firstAt(replicas, t0);
      expect(inSlice, "the API server's own watch saw the slice").to.not.equal(undefined);
      const lag = onStream - inSlice!;
      console.log(
        `    ${replicas} replicas: stream updated ${lag.toFixed(0)} ms after the EndpointSlice watch saw it (${(onStream - t0).toFixed(0)} ms after kubectl scale returned)`,
      );
      expect(lag).to.be.lessThan(1000);
    }
  });

  it("delivers ServiceProfile edits to open GetProfile streams", async () => {
    const got: DestinationProfile[] = [];
    const stream = client!.getProfile({
      scheme: "k8s",
      path: `web.${ns}.svc.cluster.local:80`,
      contextToken: JSON.stringify({ ns, nodeName: "", pod: "" }),
    });
    stream.on("data", (p: DestinationProfile) => got.push(p));
    stream.on("error", () => undefined);
    await waitFor(
      "the default profile",
      async () => (got.length > 0 ? true : undefined),
      30_000,
      50,
    );
    expect(got[0].routes).to.deep.equal([]);
    for (const route of ["books", "books-v2"]) {
      const t0 = performance.now();
      await apply(profile("web", ns, route), ns);
      const p = await waitFor(
        `route ${route}`,
        async () => got.find((x) => x.routes[0]?.metricsLabels.route === route),
        30_000,
        20,
      );
      console.log(
        `    profile edit (${route}) reached the stream ${(performance.now() - t0).toFixed(0)} ms after kubectl apply returned`,
      );
      expect(p.routes[0].isRetryable).to.equal(true);
      expect(p.routes[0].timeout).to.deep.equal({ seconds: 0n, nanos: 300_000_000 });
    }
    stream.cancel();
  });
});
