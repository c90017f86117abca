import { expect } from "chai";
import { decideInjection, type InjectDecision } from "./decide";
import { testContext, testNamespace, testPod } from "./fixtures";

function skipped(d: InjectDecision): { code: string; reason: string; event: boolean } {
  if (d.inject) throw new Error("expected a skip, got an injection");
  return d;
}

describe("decideInjection", () => {
  const ctx = testContext();

  it("injects when the namespace is annotated and the pod says nothing", () => {
    const d = decideInjection(
      testPod(),
      "shop",
      testNamespace("shop", { "weft.io/inject": "enabled" }),
      ctx,
    );
    expect(d.inject).to.equal(true);
  });

  it("lets the pod's value win over the namespace's", () => {
    const d = decideInjection(
      testPod({ "weft.io/inject": "disabled" }),
      "shop",
      testNamespace("shop", { "weft.io/inject": "enabled" }),
      ctx,
    );
    expect(skipped(d)).to.include({ code: "Disabled", event: true });
    expect(skipped(d).reason).to.contain("on the pod");
    const e = decideInjection(
      testPod({ "weft.io/inject": "ingress" }),
      "shop",
      testNamespace("shop", { "weft.io/inject": "disabled" }),
      ctx,
    );
    expect(e).to.include({ inject: true, mode: "ingress" });
  });

  it("skips silently without any annotation", () => {
    expect(skipped(decideInjection(testPod(), "shop", testNamespace("shop"), ctx))).to.include({
      code: "NoAnnotation",
      event: false,
    });
  });

  it("rejects an invalid inject value and says what is valid", () => {
    const s = skipped(
      decideInjection(testPod({ "weft.io/inject": "yes" }), "shop", undefined, ctx),
    );
    expect(s.code).to.equal("InvalidValue");
    expect(s.reason).to.contain('"yes"').and.to.contain("enabled, ingress or disabled");
  });

  it("skips hostNetwork pods, already injected pods and control-plane pods", () => {
    const on = { "weft.io/inject": "enabled" };
    expect(
      skipped(decideInjection(testPod(on, { hostNetwork: true }), "shop", undefined, ctx)).code,
    ).to.equal("HostNetwork");
    const injected = testPod(on, { initContainers: [{ name: "weft-proxy", image: "x" }] });
    expect(skipped(decideInjection(injected, "shop", undefined, ctx)).code).to.equal(
      "AlreadyInjected",
    );
    const cp = testPod(on);
    cp.metadata!.labels!["weft.io/control-plane-component"] = "destination";
    expect(skipped(decideInjection(cp, "shop", undefined, ctx)).code).to.equal("ControlPlane");
  });

  it("never injects kube-system or weft-system, and honours the Mesh's exclusions and the opt-out label", () => {
    const on = { "weft.io/inject": "enabled" };
    expect(skipped(decideInjection(testPod(on), "kube-system", undefined, ctx))).to.include({
      code: "ExcludedNamespace",
      event: false,
    });
    expect(skipped(decideInjection(testPod(on), "weft-system", undefined, ctx)).code).to.equal(
      "ExcludedNamespace",
    );
    const ex = testContext({ excludedNamespaces: ["legacy"] });
    expect(skipped(decideInjection(testPod(on), "legacy", undefined, ex)).reason).to.contain(
      "spec.excludedNamespaces",
    );
    const optOut = testNamespace("shop", {}, { "config.weft.io/admission-webhooks": "disabled" });
    expect(skipped(decideInjection(testPod(on), "shop", optOut, ctx)).code).to.equal("OptedOut");
  });

  it("reports every invalid override with the annotation and the expected form", () => {
    const pod = testPod({
      "weft.io/inject": "enabled",
      "config.weft.io/proxy-cpu-limit": "lots",
      "config.weft.io/skip-inbound-ports": "80-70",
    });
    const s = skipped(decideInjection(pod, "shop", undefined, ctx));
    expect(s.code).to.equal("InvalidValue");
    expect(s.reason).to.contain("config.weft.io/proxy-cpu-limit").and.to.contain("CPU quantity");
    expect(s.reason)
      .to.contain("config.weft.io/skip-inbound-ports")
      .and.to.contain("ports or ranges");
  });

  it("inherits namespace overrides the pod lacks, the pod's own winning", () => {
    const ns = testNamespace("shop", {
      "weft.io/inject": "enabled",
      "config.weft.io/proxy-log-level": "debug",
      "config.weft.io/proxy-memory-limit": "128Mi",
    });
    const d = decideInjection(
      testPod({ "config.weft.io/proxy-log-level": "trace" }),
      "shop",
      ns,
      ctx,
    );
    if (!d.inject) throw new Error(d.reason);
    expect(d.settings.logLevel).to.equal("trace");
    expect(d.settings.resources.memoryLimit).to.equal("128Mi");
  });
});
