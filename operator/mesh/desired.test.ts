import { expect } from "chai";
import type { Mesh } from "../../crds/types";
import { controllerImage, desiredObjects, type DesiredInput } from "./desired";

const mesh: Mesh = {
  apiVersion: "weft.io/v1alpha1",
  kind: "Mesh",
  metadata: { name: "weft", generation: 3 },
  spec: {
    version: "0.1.0",
    trustDomain: "cluster.local",
    components: { destination: { replicas: 2 }, tap: { enabled: false } },
  },
};
const trust = {
  anchorsPem: "ROOT",
  generatedIssuer: { "tls.crt": "ISS", "tls.key": "KEY", "ca.crt": "ROOT" },
};

function byKind(input: DesiredInput, kind: string): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    desiredObjects(input)
      .filter((o) => o.kind === kind)
      .map((o) => [o.metadata!.name!, o as Record<string, unknown>]),
  );
}

describe("desiredObjects", () => {
  const all = ["identity", "destination", "tap", "api", "web"];

  it("runs identity and destination, and only the enabled components this build has", () => {
    const deps = byKind({ mesh, available: all, trust }, "Deployment");
    expect(Object.keys(deps).sort()).to.deep.equal([
      "weft-api",
      "weft-destination",
      "weft-identity",
      "weft-web",
    ]);
    const onlyTwo = byKind({ mesh, available: ["identity", "destination"], trust }, "Deployment");
    expect(Object.keys(onlyTwo).sort()).to.deep.equal(["weft-destination", "weft-identity"]);
  });

  it("writes the generated trust anchors and issuer, never a user-supplied one", () => {
    const cm = byKind({ mesh, available: all, trust }, "ConfigMap")["weft-identity-trust-roots"];
    expect(cm.data).to.deep.equal({ "ca-bundle.crt": "ROOT" });
    const secret = byKind({ mesh, available: all, trust }, "Secret")["weft-identity-issuer"];
    expect(secret.type).to.equal("kubernetes.io/tls");
    const byo: Mesh = {
      ...mesh,
      spec: {
        ...mesh.spec,
        identity: { issuer: { secretName: "mine", trustAnchorsConfigMap: "anchors" } },
      },
    };
    expect(
      byKind({ mesh: byo, available: all, trust: { anchorsPem: "ROOT" } }, "Secret"),
    ).to.deep.equal({});
    const role = byKind({ mesh: byo, available: all }, "Role")["weft-identity"] as {
      rules: { resourceNames: string[] }[];
    };
    expect(role.rules.map((r) => r.resourceNames[0])).to.deep.equal(["mine", "anchors"]);
  });

  it("sets replicas, readiness probes, the controller image and the component label", () => {
    const d = byKind({ mesh, available: all, trust }, "Deployment")["weft-destination"] as any;
    expect(d.spec.replicas).to.equal(2);
    expect(d.metadata.namespace).to.equal("weft-system");
    const c = d.spec.template.spec.containers[0];
    expect(c.image).to.equal("docker.io/weft/controller:0.1.0");
    expect(c.args).to.deep.equal(["/app/weft-controller.js", "destination"]);
    expect(c.readinessProbe.tcpSocket.port).to.equal("grpc");
    expect(d.spec.template.metadata.labels["weft.io/control-plane-component"]).to.equal(
      "destination",
    );
    expect(c.securityContext).to.include({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      runAsNonRoot: true,
    });
  });

  it("grants each component only what it needs", () => {
    const roles = byKind({ mesh, available: all, trust }, "ClusterRole") as any;
    expect(roles["weft-identity"].rules[0]).to.deep.include({
      resources: ["tokenreviews"],
      verbs: ["create"],
    });
    expect(roles["weft-web"]).to.equal(undefined);
    const verbs = new Set(
      Object.values(roles).flatMap((r: any) => r.rules.flatMap((x: any) => x.verbs)),
    );
    expect([...verbs].sort()).to.deep.equal(["create", "get", "list", "patch", "update", "watch"]);
    expect(
      roles["weft-destination"].rules.find((r: any) =>
        r.resources.includes("serviceprofiles/status"),
      ).verbs,
    ).to.not.include("delete");
  });

  it("is deterministic, and a spec change rolls only the affected component", () => {
    const a = desiredObjects({ mesh, available: all, trust });
    expect(JSON.stringify(desiredObjects({ mesh, available: all, trust }))).to.equal(
      JSON.stringify(a),
    );
    const hash = (m: Mesh, name: string) =>
      (byKind({ mesh: m, available: all, trust }, "Deployment")[name] as any).spec.template.metadata
        .annotations["weft.io/spec-hash"];
    const changed: Mesh = {
      ...mesh,
      spec: { ...mesh.spec, identity: { issuanceLifetime: "12h" } },
    };
    expect(hash(changed, "weft-identity")).to.not.equal(hash(mesh, "weft-identity"));
    expect(hash(changed, "weft-destination")).to.equal(hash(mesh, "weft-destination"));
  });

  it("uses the Mesh's controller image, tagging it with the version when untagged", () => {
    expect(controllerImage({ mesh, available: [] })).to.equal("docker.io/weft/controller:0.1.0");
    const m: Mesh = { ...mesh, spec: { ...mesh.spec, controllerImage: "reg/ctl:dev" } };
    expect(controllerImage({ mesh: m, available: [] })).to.equal("reg/ctl:dev");
  });

  it("runs the bundled Prometheus with its config, the targets sidecar and its own image", () => {
    const input = { mesh, available: [...all, "prometheus"], trust };
    const dep = byKind(input, "Deployment")["weft-prometheus"] as {
      spec: {
        template: { spec: { containers: { name: string; image: string; args: string[] }[] } };
      };
    };
    const [prom, targets] = dep.spec.template.spec.containers;
    expect(prom).to.include({ name: "prometheus", image: "docker.io/weft/prometheus:2.42.0" });
    expect(prom.args).to.include("--config.file=/etc/prometheus/prometheus.yml");
    expect(targets.image).to.equal("docker.io/weft/controller:0.1.0");
    expect(targets.args.slice(1, 2)).to.deep.equal(["prometheus"]);
    const cm = byKind(input, "ConfigMap")["weft-prometheus-config"] as {
      data: Record<string, string>;
    };
    expect(JSON.parse(cm.data["prometheus.yml"]).scrape_configs[0].job_name).to.equal("weft-proxy");
    const own: Mesh = {
      ...mesh,
      spec: {
        ...mesh.spec,
        components: { prometheus: { enabled: false, externalURL: "http://p:9090" } },
      },
    };
    expect(byKind({ ...input, mesh: own }, "Deployment")).to.not.have.property("weft-prometheus");
  });
});
