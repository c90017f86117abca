import { expect } from "chai";
import { PeprMutateRequest } from "pepr";
import type { V1Pod } from "@kubernetes/client-node";
import { testContext, testNamespace, testPod } from "../inject/fixtures";
import type { PodEvent } from "./events";
import { admission, POD_GVK } from "./fixtures";
import { mutatePod, type InjectorDeps } from "./injector";

function deps(
  nsAnnotations: Record<string, string>,
  over: Partial<InjectorDeps> = {},
): InjectorDeps & { events: PodEvent[] } {
  const events: PodEvent[] = [];
  return {
    events,
    context: async () => testContext(),
    namespace: async (name) => testNamespace(name, nsAnnotations),
    emit: (e) => events.push(e),
    log: () => undefined,
    ...over,
  };
}

function request(pod: V1Pod, dryRun = false): PeprMutateRequest<V1Pod & { metadata?: object }> {
  return new PeprMutateRequest(
    admission(pod as never, POD_GVK, { namespace: "shop", dryRun }) as never,
  );
}

describe("mutatePod (PeprMutateRequest)", () => {
  it("injects a pod of an enabled namespace and records Injected on its owner", async () => {
    const req = request(testPod());
    const d = deps({ "weft.io/inject": "enabled" });
    await mutatePod(req, d);
    expect(req.Raw.spec!.initContainers!.map((c) => c.name)).to.deep.equal([
      "weft-init",
      "weft-proxy",
    ]);
    expect(req.Raw.metadata!.labels!["weft.io/control-plane-ns"]).to.equal("weft-system");
    expect(d.events).to.have.length(1);
    expect(d.events[0]).to.deep.include({ reason: "Injected", namespace: "shop" });
    expect(d.events[0].message).to.contain("native sidecar");
  });

  it("leaves a disabled pod alone and says why", async () => {
    const req = request(testPod({ "weft.io/inject": "disabled" }));
    const d = deps({ "weft.io/inject": "enabled" });
    await mutatePod(req, d);
    expect(req.Raw.spec!.initContainers).to.equal(undefined);
    expect(d.events[0]).to.deep.include({
      reason: "InjectionSkipped",
      message: "weft.io/inject=disabled on the pod",
    });
  });

  it("writes no Event for pods nobody asked to mesh, nor on dry runs", async () => {
    const quiet = deps({});
    await mutatePod(request(testPod()), quiet);
    expect(quiet.events).to.deep.equal([]);
    const dry = deps({ "weft.io/inject": "enabled" });
    const req = request(testPod(), true);
    await mutatePod(req, dry);
    expect(req.Raw.spec!.initContainers!.length).to.equal(2);
    expect(dry.events).to.deep.equal([]);
  });

  it("warns about an invalid override and admits the pod unchanged", async () => {
    const req = request(testPod({ "config.weft.io/proxy-uid": "-1" }));
    const d = deps({ "weft.io/inject": "enabled" });
    await mutatePod(req, d);
    expect(req.Raw.spec!.initContainers).to.equal(undefined);
    expect(d.events[0]).to.deep.include({ reason: "InjectionSkipped", type: "Warning" });
    expect(d.events[0].message).to.contain("config.weft.io/proxy-uid");
  });

  it("ignores the ephemeralcontainers subresource", async () => {
    const pod = testPod();
    const req = new PeprMutateRequest(
      admission(pod as never, POD_GVK, {
        namespace: "shop",
        subResource: "ephemeralcontainers",
      } as never) as never,
    );
    const d = deps({ "weft.io/inject": "enabled" });
    await mutatePod(req as never, d);
    expect((req.Raw as V1Pod).spec!.initContainers).to.equal(undefined);
    expect(d.events).to.deep.equal([]);
  });

  it("fails open when its inputs cannot be read", async () => {
    const req = request(testPod());
    const d = deps({}, { context: async () => Promise.reject(new Error("apiserver unreachable")) });
    await mutatePod(req, d);
    expect(req.Raw.spec!.initContainers).to.equal(undefined);
    expect(d.events[0].message).to.contain("apiserver unreachable");
  });
});
