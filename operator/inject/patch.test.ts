import { expect } from "chai";
import type { V1Container, V1EnvVar, V1Pod } from "@kubernetes/client-node";
import { decideInjection } from "./decide";
import { testContext, testNamespace, testPod } from "./fixtures";
import { injectPod } from "./patch";

const ctx = testContext();

function inject(
  annotations: Record<string, string> = {},
  c = ctx,
  over: Partial<V1Pod["spec"]> = {},
): V1Pod {
  const pod = testPod({ "weft.io/inject": "enabled", ...annotations }, over);
  const d = decideInjection(pod, "shop", testNamespace("shop"), c);
  if (!d.inject) throw new Error(d.reason);
  return injectPod(pod, "shop", d.mode, d.settings, c);
}

function proxyOf(pod: V1Pod): V1Container {
  const c = [...(pod.spec!.initContainers ?? []), ...pod.spec!.containers].find(
    (x) => x.name === "weft-proxy",
  );
  if (!c) throw new Error("no proxy");
  return c;
}

function env(pod: V1Pod): Record<string, string | undefined> {
  return Object.fromEntries(
    (proxyOf(pod).env ?? []).map((e: V1EnvVar) => [
      e.name,
      e.value ?? e.valueFrom?.fieldRef?.fieldPath,
    ]),
  );
}

describe("injectPod", () => {
  it("adds weft-init then the proxy as a native sidecar with a startupProbe on /ready", () => {
    const pod = inject();
    expect(pod.spec!.initContainers!.map((c) => c.name)).to.deep.equal(["weft-init", "weft-proxy"]);
    const proxy = proxyOf(pod);
    expect(proxy.restartPolicy).to.equal("Always");
    expect(proxy.startupProbe!.httpGet!.path).to.equal("/ready");
    expect(proxy.livenessProbe!.httpGet).to.deep.include({ path: "/live", port: "weft-admin" });
    expect(proxy.readinessProbe!.httpGet!.path).to.equal("/ready");
    expect(pod.spec!.containers.map((c) => c.name)).to.deep.equal(["app"]);
  });

  it("puts the proxy first among the containers with an await hook when native sidecars are off", () => {
    const pod = inject({ "config.weft.io/proxy-enable-native-sidecar": "false" });
    expect(pod.spec!.containers.map((c) => c.name)).to.deep.equal(["weft-proxy", "app"]);
    expect(pod.spec!.initContainers!.map((c) => c.name)).to.deep.equal(["weft-init"]);
    expect(proxyOf(pod).lifecycle!.postStart!.exec!.command).to.include("await");
    expect(proxyOf(pod).restartPolicy).to.equal(undefined);
    const noAwait = inject({
      "config.weft.io/proxy-enable-native-sidecar": "false",
      "config.weft.io/proxy-await": "disabled",
    });
    expect(proxyOf(noAwait).lifecycle).to.equal(undefined);
  });

  it("falls back to a regular container where Kubernetes has no native sidecars", () => {
    const pod = inject({}, testContext({ nativeSidecarSupported: false }));
    expect(pod.spec!.containers[0].name).to.equal("weft-proxy");
  });

  it("gives weft-init NET_ADMIN and NET_RAW and nothing else", () => {
    const init = inject().spec!.initContainers![0];
    expect(init.securityContext!.capabilities).to.deep.equal({
      add: ["NET_ADMIN", "NET_RAW"],
      drop: ["ALL"],
    });
    expect(init.securityContext!.privileged).to.equal(false);
    expect(init.args).to.include.members(["init", "--proxy-uid", "2102"]);
    expect(init.args![init.args!.indexOf("--inbound-ports-to-ignore") + 1]).to.equal("4190,4191");
  });

  it("runs the proxy as UID 2102, read-only, without privilege escalation or capabilities", () => {
    expect(proxyOf(inject()).securityContext).to.deep.equal({
      runAsUser: 2102,
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
  });

  it("mounts an in-memory identity dir and a projected token for identity.weft.io valid 24 h", () => {
    const pod = inject();
    const vols = Object.fromEntries(pod.spec!.volumes!.map((v) => [v.name, v]));
    expect(vols["weft-identity-end-entity"].emptyDir).to.deep.equal({ medium: "Memory" });
    expect(vols["weft-identity-token"].projected!.sources![0].serviceAccountToken).to.deep.equal({
      audience: "identity.weft.io",
      expirationSeconds: 86400,
      path: "weft-identity-token",
    });
    const mounts = proxyOf(pod).volumeMounts!.map((m) => `${m.name}:${m.mountPath}`);
    expect(mounts).to.include("weft-proxy-tmp:/tmp");
    expect(vols["weft-proxy-tmp"].emptyDir).to.deep.equal({ sizeLimit: "64Mi" });
  });

  it("lists inbound ports from TCP container ports and probes, resolving named ports", () => {
    const e = env(inject());
    expect(e.WEFT_PROXY_INBOUND_PORTS).to.equal("5432,8080,9090");
    expect(e.WEFT_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION).to.equal("5432");
    expect(e.WEFT_PROXY_INBOUND_IPS).to.equal("status.podIPs");
  });

  it("sets the destination, identity and listen addresses from the context", () => {
    const e = env(inject());
    expect(e.WEFT_PROXY_DESTINATION_SVC_ADDR).to.equal(
      "weft-destination.weft-system.svc.cluster.local.:8086",
    );
    expect(e.WEFT_PROXY_IDENTITY_SVC_NAME).to.equal(
      "weft-identity.weft-system.serviceaccount.identity.weft-system.cluster.local",
    );
    expect(e.WEFT_PROXY_IDENTITY_LOCAL_NAME).to.equal(
      "$(_pod_sa).$(_pod_ns).serviceaccount.identity.weft-system.cluster.local",
    );
    expect(e.WEFT_PROXY_IDENTITY_TRUST_ANCHORS).to.contain("BEGIN CERTIFICATE");
    expect(e.WEFT_PROXY_INBOUND_LISTEN_ADDR).to.equal("0.0.0.0:4143");
    expect(e.WEFT_PROXY_OUTBOUND_LISTEN_ADDR).to.equal("127.0.0.1:4140");
    expect(e.WEFT_PROXY_ADMIN_LISTEN_ADDR).to.equal("0.0.0.0:4191");
    expect(e.WEFT_PROXY_INGRESS_MODE).to.equal(undefined);
  });

  it("disables identity when the mesh has no trust anchors yet", () => {
    const pod = inject({}, testContext({ trustAnchorsPem: undefined, trustRootSha256: undefined }));
    expect(env(pod).WEFT_PROXY_IDENTITY_DISABLED).to.equal("true");
    expect(pod.metadata!.annotations!["weft.io/identity-mode"]).to.equal("disabled");
  });

  it("labels and annotates the pod with the control plane, owner, version, trust root and opaque ports", () => {
    const pod = inject();
    expect(pod.metadata!.labels).to.include({
      "weft.io/control-plane-ns": "weft-system",
      "weft.io/proxy-replicaset": "web-7d9f8",
      "weft.io/proxy-deployment": "web",
      app: "web",
    });
    expect(pod.metadata!.annotations).to.include({
      "weft.io/proxy-version": "0.1.0",
      "weft.io/trust-root-sha256": "ab".repeat(32),
      "config.weft.io/opaque-ports": "5432",
    });
  });

  it("honours every override", () => {
    const pod = inject({
      "config.weft.io/proxy-image": "registry.local/proxy",
      "config.weft.io/proxy-version": "9.9.9",
      "config.weft.io/proxy-image-pull-policy": "Never",
      "config.weft.io/proxy-inbound-port": "5143",
      "config.weft.io/proxy-outbound-port": "5140",
      "config.weft.io/proxy-admin-port": "5191",
      "config.weft.io/proxy-control-port": "5190",
      "config.weft.io/opaque-ports": "8080,9000-9010",
      "config.weft.io/skip-inbound-ports": "22",
      "config.weft.io/skip-outbound-ports": "443,6000-6010",
      "config.weft.io/skip-subnets": "10.0.0.0/8,fd00::/8",
      "config.weft.io/proxy-cpu-request": "50m",
      "config.weft.io/proxy-cpu-limit": "1",
      "config.weft.io/proxy-memory-request": "20Mi",
      "config.weft.io/proxy-memory-limit": "250Mi",
      "config.weft.io/proxy-uid": "3000",
      "config.weft.io/proxy-log-level": "warn,weft=debug",
      "config.weft.io/proxy-log-format": "json",
      "config.weft.io/proxy-inbound-connect-timeout": "200ms",
      "config.weft.io/proxy-outbound-connect-timeout": "2s",
      "config.weft.io/proxy-admin-shutdown": "enabled",
      "config.weft.io/proxy-shutdown-grace-period": "30s",
      "config.weft.io/proxy-additional-env": "FOO=bar,BAZ=1",
      "config.weft.io/proxy-require-identity-inbound-ports": "8080",
    });
    const proxy = proxyOf(pod);
    const init = pod.spec!.initContainers![0];
    const e = env(pod);
    expect(proxy.image).to.equal("registry.local/proxy:9.9.9");
    expect(proxy.imagePullPolicy).to.equal("Never");
    expect(init.image).to.equal("registry.local/proxy:9.9.9");
    expect(e.WEFT_PROXY_INBOUND_LISTEN_ADDR).to.equal("0.0.0.0:5143");
    expect(e.WEFT_PROXY_OUTBOUND_LISTEN_ADDR).to.equal("127.0.0.1:5140");
    expect(e.WEFT_PROXY_ADMIN_LISTEN_ADDR).to.equal("0.0.0.0:5191");
    expect(e.WEFT_PROXY_CONTROL_LISTEN_ADDR).to.equal("0.0.0.0:5190");
    expect(e.WEFT_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION).to.equal("8080,9000-9010");
    expect(init.args!.slice(0, 5)).to.deep.equal([
      "init",
      "--incoming-proxy-port",
      "5143",
      "--outgoing-proxy-port",
      "5140",
    ]);
    expect(init.args![init.args!.indexOf("--inbound-ports-to-ignore") + 1]).to.equal(
      "5190,5191,22",
    );
    expect(init.args![init.args!.indexOf("--outbound-ports-to-ignore") + 1]).to.equal(
      "443,6000-6010",
    );
    expect(init.args![init.args!.indexOf("--subnets-to-ignore") + 1]).to.equal(
      "10.0.0.0/8,fd00::/8",
    );
    expect(init.args![init.args!.indexOf("--proxy-uid") + 1]).to.equal("3000");
    expect(proxy.resources).to.deep.equal({
      requests: { cpu: "50m", memory: "20Mi" },
      limits: { cpu: "1", memory: "250Mi" },
    });
    expect(proxy.securityContext!.runAsUser).to.equal(3000);
    expect(e).to.include({
      WEFT_PROXY_LOG: "warn,weft=debug",
      WEFT_PROXY_LOG_FORMAT: "json",
      WEFT_PROXY_INBOUND_CONNECT_TIMEOUT: "200ms",
      WEFT_PROXY_OUTBOUND_CONNECT_TIMEOUT: "2s",
      WEFT_PROXY_SHUTDOWN_ENDPOINT_ENABLED: "true",
      WEFT_PROXY_SHUTDOWN_GRACE_PERIOD: "30s",
      WEFT_PROXY_INBOUND_PORTS_REQUIRE_IDENTITY: "8080",
      FOO: "bar",
      BAZ: "1",
    });
    expect(proxy.ports!.map((p) => p.containerPort)).to.deep.equal([5143, 5191, 5190]);
  });

  it("marks ingress mode", () => {
    expect(env(inject({ "weft.io/inject": "ingress" })).WEFT_PROXY_INGRESS_MODE).to.equal("true");
  });

  it("keeps the pod's own init containers after the proxy and its volumes", () => {
    const pod = inject({}, ctx, {
      initContainers: [{ name: "migrate", image: "m" }],
      volumes: [{ name: "data", emptyDir: {} }],
    });
    expect(pod.spec!.initContainers!.map((c) => c.name)).to.deep.equal([
      "weft-init",
      "weft-proxy",
      "migrate",
    ]);
    expect(pod.spec!.volumes![0].name).to.equal("data");
  });

  it("is idempotent: an injected pod is not injected again", () => {
    const once = inject();
    const d = decideInjection(once, "shop", testNamespace("shop"), ctx);
    expect(d).to.include({ inject: false, code: "AlreadyInjected" });
  });
});
