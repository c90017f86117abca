/**
 * The cluster state the destination service serves from: Services, EndpointSlices, Pods and
 * ServiceProfiles as plain models, with the indexes lookups need. Applying a watch event returns
 * which publishers it may affect; it never calls out.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import type { ServiceProfileObject } from "../profiles/spec";
import {
  podFromObject,
  serviceFromObject,
  sliceFromObject,
  type PodModel,
  type ServiceModel,
  type SliceModel,
} from "./model";

export type WatchedKind = "Service" | "EndpointSlice" | "Pod" | "ServiceProfile";
export type Phase = "ADDED" | "MODIFIED" | "DELETED";

export interface ClusterEvent {
  kind: WatchedKind;
  phase: Phase;
  object: KubernetesObject;
}

/** Keys of what an event touched: services (`ns/name`), IPs and profile names (`ns/name`). */
export interface Affected {
  services: Set<string>;
  ips: Set<string>;
  profiles: Set<string>;
}

export function emptyAffected(): Affected {
  return { services: new Set(), ips: new Set(), profiles: new Set() };
}

const key = (ns: string, name: string): string => `${ns}/${name}`;

function objKey(obj: KubernetesObject): string {
  return key(obj.metadata?.namespace ?? "", obj.metadata?.name ?? "");
}

export class ClusterStore {
  readonly services = new Map<string, ServiceModel>();
  private readonly clusterIPs = new Map<string, string>();
  private readonly slicesBySvc = new Map<string, Map<string, SliceModel>>();
  private readonly sliceSvc = new Map<string, string>();
  readonly pods = new Map<string, PodModel>();
  private readonly podsByIp = new Map<string, string>();
  private readonly svcsByPod = new Map<string, Set<string>>();
  /** Pods deleted recently, by key; a slice can list one for a moment after. */
  private readonly deletedPods = new Set<string>();
  readonly profiles = new Map<string, ServiceProfileObject>();

  apply(event: ClusterEvent): Affected {
    switch (event.kind) {
      case "Service":
        return this.applyService(event);
      case "EndpointSlice":
        return this.applySlice(event);
      case "Pod":
        return this.applyPod(event);
      case "ServiceProfile":
        return this.applyProfile(event);
    }
  }

  service(ns: string, name: string): ServiceModel | undefined {
    return this.services.get(key(ns, name));
  }

  slices(ns: string, name: string): Iterable<SliceModel> {
    return this.slicesBySvc.get(key(ns, name))?.values() ?? [];
  }

  pod(ns: string, name: string): PodModel | undefined {
    return this.pods.get(key(ns, name));
  }

  podGone(ns: string, name: string): boolean {
    return this.deletedPods.has(key(ns, name));
  }

  podByIp(ip: string): PodModel | undefined {
    const k = this.podsByIp.get(ip);
    return k === undefined ? undefined : this.pods.get(k);
  }

  /** The Service whose cluster IP is `ip`, as `ns/name`. */
  serviceByClusterIp(ip: string): ServiceModel | undefined {
    const k = this.clusterIPs.get(ip);
    return k === undefined ? undefined : this.services.get(k);
  }

  profile(ns: string, name: string): ServiceProfileObject | undefined {
    return this.profiles.get(key(ns, name));
  }

  private applyService(event: ClusterEvent): Affected {
    const k = objKey(event.object);
    const affected = emptyAffected();
    affected.services.add(k);
    const old = this.services.get(k);
    if (old && this.clusterIPs.get(old.clusterIP) === k) {
      this.clusterIPs.delete(old.clusterIP);
      affected.ips.add(old.clusterIP);
    }
    if (event.phase === "DELETED") {
      this.services.delete(k);
      return affected;
    }
    const svc = serviceFromObject(event.object);
    this.services.set(k, svc);
    if (svc.clusterIP && !svc.headless) {
      this.clusterIPs.set(svc.clusterIP, k);
      affected.ips.add(svc.clusterIP);
    }
    return affected;
  }

  private applySlice(event: ClusterEvent): Affected {
    const k = objKey(event.object);
    const affected = emptyAffected();
    const oldSvc = this.sliceSvc.get(k);
    if (oldSvc !== undefined) {
      this.slicesBySvc.get(oldSvc)?.delete(k);
      affected.services.add(oldSvc);
    }
    if (event.phase === "DELETED") {
      this.sliceSvc.delete(k);
      return affected;
    }
    const slice = sliceFromObject(event.object);
    if (!slice.service) return affected;
    const svcKey = key(slice.namespace, slice.service);
    this.sliceSvc.set(k, svcKey);
    let bySlice = this.slicesBySvc.get(svcKey);
    if (!bySlice) this.slicesBySvc.set(svcKey, (bySlice = new Map()));
    bySlice.set(k, slice);
    for (const ep of slice.endpoints) this.indexPodService(slice.namespace, ep.podName, svcKey);
    affected.services.add(svcKey);
    return affected;
  }

  private indexPodService(ns: string, podName: string | undefined, svcKey: string): void {
    if (podName === undefined) return;
    const pk = key(ns, podName);
    let set = this.svcsByPod.get(pk);
    if (!set) this.svcsByPod.set(pk, (set = new Set()));
    set.add(svcKey);
  }

  private applyPod(event: ClusterEvent): Affected {
    const k = objKey(event.object);
    const affected = emptyAffected();
    const old = this.pods.get(k);
    if (old?.ip) {
      affected.ips.add(old.ip);
      if (this.podsByIp.get(old.ip) === k) this.podsByIp.delete(old.ip);
    }
    for (const s of this.svcsByPod.get(k) ?? []) affected.services.add(s);
    if (event.phase === "DELETED") {
      this.pods.delete(k);
      this.svcsByPod.delete(k);
      this.rememberDeleted(k);
      return affected;
    }
    this.deletedPods.delete(k);
    const pod = podFromObject(event.object);
    this.pods.set(k, pod);
    if (pod.ip && !pod.terminal) {
      this.podsByIp.set(pod.ip, k);
      affected.ips.add(pod.ip);
    }
    return affected;
  }

  /** Bounded: names of long-gone pods are forgotten oldest first (a Set keeps insertion order). */
  private rememberDeleted(k: string): void {
    this.deletedPods.add(k);
    if (this.deletedPods.size > 10_000) {
      this.deletedPods.delete(this.deletedPods.values().next().value as string);
    }
  }

  private applyProfile(event: ClusterEvent): Affected {
    const k = objKey(event.object);
    const affected = emptyAffected();
    affected.profiles.add(k);
    if (event.phase === "DELETED") this.profiles.delete(k);
    else this.profiles.set(k, event.object as ServiceProfileObject);
    return affected;
  }
}
