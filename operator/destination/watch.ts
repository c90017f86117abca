/**
 * Where cluster events come from. The Kubernetes source watches with kubernetes-fluent-client
 * (list, then watch, relisting on its own); the feed source is an in-memory edge for tests and
 * benchmarks. Both hand plain `ClusterEvent`s to a sink.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import type { ClusterEvent, Phase, WatchedKind } from "./store";

export type Sink = (event: ClusterEvent) => void;

export interface WatchSource {
  /** Starts delivering events to `sink`; resolves once every watch is started. */
  start(sink: Sink): Promise<void>;
  stop(): void;
}

export const SERVICE_PROFILE_GVK = {
  group: "weft.io",
  version: "v1alpha2",
  kind: "ServiceProfile",
  plural: "serviceprofiles",
};

function isPhase(p: string): p is Phase {
  return p === "ADDED" || p === "MODIFIED" || p === "DELETED";
}

interface Stoppable {
  close(): void;
}

/** Watches Services, EndpointSlices, Pods and ServiceProfiles in every namespace. */
export class KubernetesWatchSource implements WatchSource {
  private readonly watchers: Stoppable[] = [];

  constructor(
    private readonly onError: (kind: WatchedKind, err: unknown) => void = () => undefined,
  ) {}

  async start(sink: Sink): Promise<void> {
    // Loaded here so processes that only use the feed (tests, benchmarks) do not load the client.
    const { GenericKind, K8s, kind, WatchEvent } = await import("kubernetes-fluent-client");
    const forward =
      (k: WatchedKind) =>
      (obj: KubernetesObject, phase: string): void => {
        if (isPhase(phase)) sink({ kind: k, phase, object: obj });
      };
    const watchers = [
      { k: "Service" as const, w: K8s(kind.Service).Watch(forward("Service")) },
      { k: "EndpointSlice" as const, w: K8s(kind.EndpointSlice).Watch(forward("EndpointSlice")) },
      { k: "Pod" as const, w: K8s(kind.Pod).Watch(forward("Pod")) },
      {
        k: "ServiceProfile" as const,
        w: K8s(GenericKind, { kindOverride: SERVICE_PROFILE_GVK }).Watch(forward("ServiceProfile")),
      },
    ];
    for (const { k, w } of watchers) {
      w.events.on(WatchEvent.GIVE_UP, (err: unknown) => this.onError(k, err));
      w.events.on(WatchEvent.LIST_ERROR, (err: unknown) => this.onError(k, err));
      this.watchers.push(w);
    }
    // A kind that cannot be watched (e.g. the ServiceProfile CRD is not installed yet) is
    // reported and retried by the watcher; the other kinds are served meanwhile.
    await Promise.all(
      watchers.map(({ k, w }) => w.start().catch((err: unknown) => this.onError(k, err))),
    );
  }

  stop(): void {
    for (const w of this.watchers.splice(0)) w.close();
  }
}

/** An in-memory event feed: `push` delivers at once once started (earlier pushes are replayed). */
export class FeedWatchSource implements WatchSource {
  private sink: Sink | undefined;
  private readonly backlog: ClusterEvent[] = [];

  async start(sink: Sink): Promise<void> {
    this.sink = sink;
    for (const e of this.backlog.splice(0)) sink(e);
  }

  push(event: ClusterEvent): void {
    if (this.sink) this.sink(event);
    else this.backlog.push(event);
  }

  stop(): void {
    this.sink = undefined;
  }
}
