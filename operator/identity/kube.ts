// The identity service's Kubernetes I/O: TokenReviews, the startup access check,
// Events, and the watches on the issuer Secret and the trust-anchor ConfigMap.
import type * as K8sTypes from "@kubernetes/client-node" with { "resolution-mode": "import" };
import {
  TOKEN_AUDIENCE,
  type ServiceAccountRef,
  type TokenReviewer,
  type TokenReviewResult,
} from "./certify";
import { IdentityStartupError } from "./errors";
import { TRUST_ROOTS_KEY, type IssuerSources } from "./issuer-store";

type K8s = typeof K8sTypes;

export interface Kube {
  k8s: K8s;
  kc: K8sTypes.KubeConfig;
}

/** Loads a kubeconfig file, else the in-cluster service account, else the default chain. */
export async function connectKube(kubeconfig?: string): Promise<Kube> {
  const k8s = (await import("@kubernetes/client-node")) as K8s;
  const kc = new k8s.KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromDefault();
  return { k8s, kc };
}

/** A TokenReviewer backed by the API server, for `audience`. */
export function apiTokenReviewer(kube: Kube, audience = TOKEN_AUDIENCE): TokenReviewer {
  const api = kube.kc.makeApiClient(kube.k8s.AuthenticationV1Api);
  return async (token: string): Promise<TokenReviewResult> => {
    const tr = await api.createTokenReview({
      body: {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenReview",
        spec: { token, audiences: [audience] },
      },
    });
    const s = tr.status ?? {};
    return {
      authenticated: s.authenticated === true,
      error: s.error,
      username: s.user?.username,
      audiences: s.audiences,
    };
  };
}

/** Fails startup with a clear message when this service account may not create TokenReviews. */
export async function checkTokenReviewAccess(kube: Kube): Promise<void> {
  const api = kube.kc.makeApiClient(kube.k8s.AuthorizationV1Api);
  const review = await api.createSelfSubjectAccessReview({
    body: {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectAccessReview",
      spec: {
        resourceAttributes: {
          group: "authentication.k8s.io",
          resource: "tokenreviews",
          verb: "create",
        },
      },
    },
  });
  if (review.status?.allowed !== true) {
    throw new IdentityStartupError(
      "this service account may not create tokenreviews.authentication.k8s.io; " +
        "bind it to a ClusterRole with that permission (the Mesh reconciler's weft-identity role does)",
    );
  }
}

export interface EventTarget {
  kind: string;
  apiVersion: string;
  namespace: string;
  name: string;
}

export type EventSink = (
  target: EventTarget,
  type: "Normal" | "Warning",
  reason: string,
  message: string,
) => void;

/** Writes core/v1 Events; failures are reported to `onError`, never thrown at the caller. */
export function apiEventSink(
  kube: Kube,
  component: string,
  onError: (err: unknown) => void,
): EventSink {
  const api = kube.kc.makeApiClient(kube.k8s.CoreV1Api);
  return (target, type, reason, message): void => {
    const now = new Date();
    const body = {
      metadata: { generateName: `${target.name}.`, namespace: target.namespace },
      involvedObject: {
        kind: target.kind,
        apiVersion: target.apiVersion,
        namespace: target.namespace,
        name: target.name,
      },
      reason,
      message,
      type,
      source: { component },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    api.createNamespacedEvent({ namespace: target.namespace, body }).catch(onError);
  };
}

export function serviceAccountTarget(sa: ServiceAccountRef): EventTarget {
  return { kind: "ServiceAccount", apiVersion: "v1", namespace: sa.namespace, name: sa.name };
}

/** Decodes a Secret's base64 data into strings. */
export function decodeSecretData(data: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data ?? {}))
    out[k] = Buffer.from(v, "base64").toString("utf8");
  return out;
}

export interface WatchHandle {
  stop(): void;
}

interface NamedObject {
  metadata?: { name?: string };
  data?: Record<string, string>;
}

function watchOne(
  kube: Kube,
  path: string,
  name: string,
  onObject: (obj: NamedObject | undefined) => void,
  onError: (err: unknown) => void,
): WatchHandle {
  const watch = new kube.k8s.Watch(kube.kc);
  let stopped = false;
  let abort: AbortController | undefined;
  const start = (): void => {
    if (stopped) return;
    watch
      .watch(
        path,
        { fieldSelector: `metadata.name=${name}` },
        (phase: string, obj: NamedObject) => onObject(phase === "DELETED" ? undefined : obj),
        (err: unknown) => {
          if (stopped) return;
          if (err) onError(err);
          setTimeout(start, 1000).unref();
        },
      )
      .then((a) => (abort = a))
      .catch((err: unknown) => {
        onError(err);
        if (!stopped) setTimeout(start, 1000).unref();
      });
  };
  start();
  return {
    stop: (): void => {
      stopped = true;
      abort?.abort();
    },
  };
}

/** Watches the issuer Secret and the anchors ConfigMap; calls `onChange` with both after every event. */
export function watchIssuerSources(
  kube: Kube,
  namespace: string,
  names: { secret: string; configMap: string },
  onChange: (sources: IssuerSources) => void,
  onError: (err: unknown) => void,
): WatchHandle {
  const sources: IssuerSources = {};
  const secret = watchOne(
    kube,
    `/api/v1/namespaces/${namespace}/secrets`,
    names.secret,
    (obj) => {
      sources.secretData = obj ? decodeSecretData(obj.data) : undefined;
      onChange({ ...sources });
    },
    onError,
  );
  const configMap = watchOne(
    kube,
    `/api/v1/namespaces/${namespace}/configmaps`,
    names.configMap,
    (obj) => {
      sources.anchorsPem = obj?.data?.[TRUST_ROOTS_KEY];
      onChange({ ...sources });
    },
    onError,
  );
  return {
    stop: (): void => {
      secret.stop();
      configMap.stop();
    },
  };
}
