// The Kubernetes edge of the Mesh reconciler: server-side apply with our own field manager
// (the fluent client's is fixed to `pepr`), reads, lists and deletes. No decisions here.

import type { KubeConfig, KubernetesObject, KubernetesObjectApi } from "@kubernetes/client-node";
import { FIELD_MANAGER } from "./names";

export class ApplyError extends Error {
  readonly code = "WEFT_ERR_APPLY";

  constructor(
    readonly object: string,
    override readonly cause: unknown,
  ) {
    super(`apply ${object}: ${describeError(cause)}`);
    this.name = "ApplyError";
  }
}

/** The API server's message when there is one, else the error's. */
export function describeError(e: unknown): string {
  const body = (e as { body?: unknown })?.body;
  const parsed = typeof body === "string" ? safeJson(body) : body;
  const message = (parsed as { message?: string } | undefined)?.message;
  return message ?? (e instanceof Error ? e.message : String(e));
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return { message: s };
  }
}

export function objectRef(o: KubernetesObject): string {
  const ns = o.metadata?.namespace ? `${o.metadata.namespace}/` : "";
  return `${o.kind} ${ns}${o.metadata?.name}`;
}

interface Client {
  kc: KubeConfig;
  api: KubernetesObjectApi;
  strategy: string;
}

let client: Promise<Client> | undefined;

/** client-node is an ES module; load it once, lazily. */
async function getClient(): Promise<Client> {
  client ??= import("@kubernetes/client-node").then((k) => {
    const kc = new k.KubeConfig();
    kc.loadFromDefault();
    return {
      kc,
      api: k.KubernetesObjectApi.makeApiClient(kc),
      strategy: k.PatchStrategy.ServerSideApply,
    };
  });
  return client;
}

/** Server-side apply as `weft-operator`, taking over conflicting fields (force). */
export async function serverSideApply<T extends KubernetesObject>(obj: T): Promise<T> {
  const c = await getClient();
  try {
    return (await c.api.patch(
      obj,
      undefined,
      undefined,
      FIELD_MANAGER,
      true,
      c.strategy as never,
    )) as T;
  } catch (e) {
    throw new ApplyError(objectRef(obj), e);
  }
}

function isNotFound(e: unknown): boolean {
  const code =
    (e as { code?: number; statusCode?: number })?.code ??
    (e as { statusCode?: number })?.statusCode;
  return code === 404;
}

export async function readObject<T extends KubernetesObject>(
  ref: KubernetesObject,
): Promise<T | undefined> {
  const c = await getClient();
  try {
    return (await c.api.read(ref as never)) as T;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

export async function listObjects<T extends KubernetesObject>(
  apiVersion: string,
  kind: string,
  namespace?: string,
  labelSelector?: string,
): Promise<T[]> {
  const c = await getClient();
  const list = await c.api.list(
    apiVersion,
    kind,
    namespace,
    undefined,
    undefined,
    undefined,
    undefined,
    labelSelector,
  );
  return (list.items ?? []) as T[];
}

/** Deletes in the background; already gone counts as done. */
export async function deleteObject(obj: KubernetesObject): Promise<void> {
  const c = await getClient();
  try {
    await c.api.delete(obj, undefined, undefined, undefined, undefined, "Background");
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}
