// Whether a pod gets the proxy, and why not when it does not. Pure: the pod, its namespace and
// the mesh's context in, a decision out.

import type { V1Namespace, V1Pod } from "@kubernetes/client-node";
import { mergeConfigAnnotations, resolveSettings, type ProxySettings } from "./config";
import {
  ADMISSION_OPT_OUT_LABEL,
  ALWAYS_SKIPPED_NAMESPACES,
  INJECT_ANNOTATION,
  LABEL_CONTROL_PLANE_COMPONENT,
  PROXY_CONTAINER,
} from "./constants";

export interface InjectContext {
  controlPlaneNs: string;
  trustDomain: string;
  clusterDomain: string;
  /** PEM bundle of the trust anchors; without it the proxy runs with identity disabled. */
  trustAnchorsPem?: string;
  trustRootSha256?: string;
  excludedNamespaces: string[];
  defaults: ProxySettings;
  /** Kubernetes ≥ 1.29 runs init containers with restartPolicy Always as sidecars. */
  nativeSidecarSupported: boolean;
}

export type InjectMode = "enabled" | "ingress";

export type SkipCode =
  | "NoAnnotation"
  | "Disabled"
  | "InvalidValue"
  | "HostNetwork"
  | "AlreadyInjected"
  | "ExcludedNamespace"
  | "ControlPlane"
  | "OptedOut";

export type InjectDecision =
  | { inject: true; mode: InjectMode; settings: ProxySettings }
  | { inject: false; code: SkipCode; reason: string; event: boolean };

function skip(code: SkipCode, reason: string, event = true): InjectDecision {
  return { inject: false, code, reason, event };
}

/** The pod's `weft.io/inject` wins over the namespace's. */
export function injectValue(
  pod: V1Pod,
  ns: V1Namespace | undefined,
): { value?: string; from: "pod" | "namespace" } {
  const podValue = pod.metadata?.annotations?.[INJECT_ANNOTATION];
  if (podValue !== undefined) return { value: podValue, from: "pod" };
  return { value: ns?.metadata?.annotations?.[INJECT_ANNOTATION], from: "namespace" };
}

export function hasProxy(pod: V1Pod): boolean {
  const all = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  return all.some((c) => c.name === PROXY_CONTAINER);
}

function optOutLabel(pod: V1Pod, ns: V1Namespace | undefined): string | undefined {
  return (
    ns?.metadata?.labels?.[ADMISSION_OPT_OUT_LABEL] ??
    pod.metadata?.labels?.[ADMISSION_OPT_OUT_LABEL]
  );
}

function namespaceSkip(
  nsName: string,
  pod: V1Pod,
  ns: V1Namespace | undefined,
  ctx: InjectContext,
): InjectDecision | undefined {
  if (ALWAYS_SKIPPED_NAMESPACES.includes(nsName) || nsName === ctx.controlPlaneNs) {
    return skip("ExcludedNamespace", `namespace ${nsName} is never injected`, false);
  }
  if (ctx.excludedNamespaces.includes(nsName)) {
    return skip(
      "ExcludedNamespace",
      `namespace ${nsName} is excluded from injection by the Mesh (spec.excludedNamespaces)`,
    );
  }
  if (optOutLabel(pod, ns) === "disabled")
    return skip("OptedOut", `label ${ADMISSION_OPT_OUT_LABEL}=disabled`);
  return undefined;
}

function podSkip(pod: V1Pod): InjectDecision | undefined {
  if (pod.metadata?.labels?.[LABEL_CONTROL_PLANE_COMPONENT] !== undefined) {
    return skip("ControlPlane", "pod is part of the Weft control plane", false);
  }
  if (hasProxy(pod))
    return skip("AlreadyInjected", `pod already has a ${PROXY_CONTAINER} container`);
  if (pod.spec?.hostNetwork === true)
    return skip("HostNetwork", "pod uses hostNetwork: the proxy cannot intercept its traffic");
  return undefined;
}

function modeOf(value: string | undefined, from: string): InjectDecision | InjectMode {
  if (value === undefined)
    return skip(
      "NoAnnotation",
      `no ${INJECT_ANNOTATION} annotation on the pod or its namespace`,
      false,
    );
  if (value === "disabled") return skip("Disabled", `${INJECT_ANNOTATION}=disabled on the ${from}`);
  if (value === "enabled" || value === "ingress") return value;
  return skip(
    "InvalidValue",
    `${INJECT_ANNOTATION}: "${value}" on the ${from} is not valid (expected enabled, ingress or disabled)`,
  );
}

export function decideInjection(
  pod: V1Pod,
  nsName: string,
  ns: V1Namespace | undefined,
  ctx: InjectContext,
): InjectDecision {
  const early = namespaceSkip(nsName, pod, ns, ctx) ?? podSkip(pod);
  if (early) return early;
  const { value, from } = injectValue(pod, ns);
  const mode = modeOf(value, from);
  if (typeof mode !== "string") return mode;
  const annotations = mergeConfigAnnotations(pod.metadata?.annotations, ns?.metadata?.annotations);
  const { settings, errors } = resolveSettings(ctx.defaults, annotations);
  if (errors.length > 0) return skip("InvalidValue", errors.map((e) => e.message).join("; "));
  return { inject: true, mode, settings };
}
