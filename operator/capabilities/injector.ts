// The injector's admission handler: gather (namespace, mesh context) → decide → patch. It fails
// open: any error leaves the pod as it was and says so in an Event.

import type { V1Namespace, V1Pod } from "@kubernetes/client-node";
import type { PeprMutateRequest } from "pepr";
import { decideInjection, type InjectContext } from "../inject/decide";
import { injectPod } from "../inject/patch";
import type { PodEvent } from "./events";

export interface InjectorDeps {
  context(): Promise<InjectContext>;
  namespace(name: string): Promise<V1Namespace | undefined>;
  emit(e: PodEvent): void;
  log(msg: string, fields?: Record<string, unknown>): void;
}

function namespaceOf(req: PeprMutateRequest<V1Pod & { metadata?: object }>): string {
  return req.Request.namespace ?? req.Raw.metadata?.namespace ?? "default";
}

export async function mutatePod(
  req: PeprMutateRequest<V1Pod & { metadata?: object }>,
  deps: InjectorDeps,
): Promise<void> {
  const nsName = namespaceOf(req);
  const pod = req.Raw as V1Pod;
  const emit = (e: Omit<PodEvent, "namespace" | "pod">): void => {
    if (req.PermitSideEffects) deps.emit({ ...e, namespace: nsName, pod });
  };
  // kubectl debug adds ephemeral containers through a subresource: nothing to inject there.
  if (req.Request.subResource) return;
  try {
    const [ns, ctx] = await Promise.all([deps.namespace(nsName), deps.context()]);
    const d = decideInjection(pod, nsName, ns, ctx);
    if (!d.inject) {
      if (d.event)
        emit({
          reason: "InjectionSkipped",
          message: d.reason,
          type: d.code === "InvalidValue" ? "Warning" : "Normal",
        });
      return;
    }
    const injected = injectPod(pod, nsName, d.mode, d.settings, ctx);
    req.Raw.metadata = injected.metadata as typeof req.Raw.metadata;
    req.Raw.spec = injected.spec;
    const native = injected.spec?.initContainers?.some((c) => c.name === "weft-proxy") ?? false;
    emit({
      reason: "Injected",
      message: `weft-proxy ${d.settings.version} injected as a ${native ? "native sidecar" : "container"} (${d.mode})`,
      type: "Normal",
    });
  } catch (err) {
    deps.log("injection failed; the pod is admitted without the proxy", { err: String(err) });
    emit({
      reason: "InjectionSkipped",
      message: `the injector failed and let the pod through unchanged: ${String(err)}`,
      type: "Warning",
    });
  }
}
