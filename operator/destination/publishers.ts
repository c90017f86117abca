/**
 * One publisher per looked-up target (a Service port, or an `ip:port`), fanning its updates out to
 * listeners. A publisher exists while it has listeners; the messages it computes are shared by all
 * of them, so memory grows with services and endpoints, not with subscribers.
 */
import { DestinationProfile, type Update } from "../../api/gen/destination";
import type { ServiceProfileObject } from "../profiles/spec";
import {
  diffUpdates,
  podEndpointSet,
  serviceEndpointSet,
  snapshotUpdates,
  weightedAddr,
} from "./endpoints";
import type { EndpointSet, MeshContext } from "./endpoints";
import type { Target } from "./path";
import { chooseProfile, destinationProfile } from "./profile";
import type { ClusterStore, ClusterEvent, Affected } from "./store";

/** What a subscriber implements: receive an update, or be told the publisher is gone. */
export interface Listener<T> {
  update(message: T): void;
  close(reason: string): void;
}

export type EndpointListener = Listener<Update>;
export type ProfileListener = Listener<DestinationProfile>;

class Publisher<T> {
  readonly listeners = new Set<Listener<T>>();

  constructor(readonly key: string) {}

  protected fanOut(messages: T[]): void {
    for (const m of messages) for (const l of this.listeners) l.update(m);
  }
}

export class EndpointPublisher extends Publisher<Update> {
  private state: EndpointSet;

  constructor(
    key: string,
    private readonly compute: () => EndpointSet,
  ) {
    super(key);
    this.state = compute();
  }

  subscribe(listener: EndpointListener): void {
    this.listeners.add(listener);
    for (const u of snapshotUpdates(this.state)) listener.update(u);
  }

  refresh(): void {
    const next = this.compute();
    const updates = diffUpdates(this.state, next);
    this.state = next;
    this.fanOut(updates);
  }

  get size(): number {
    return this.state.addrs.size;
  }
}

export class ProfilePublisher extends Publisher<DestinationProfile> {
  private current: DestinationProfile;
  private encoded: Buffer;

  constructor(
    key: string,
    private readonly compute: () => DestinationProfile,
  ) {
    super(key);
    this.current = compute();
    this.encoded = Buffer.from(DestinationProfile.encode(this.current).finish());
  }

  subscribe(listener: ProfileListener): void {
    this.listeners.add(listener);
    listener.update(this.current);
  }

  refresh(): void {
    const next = this.compute();
    const encoded = Buffer.from(DestinationProfile.encode(next).finish());
    if (encoded.equals(this.encoded)) return;
    this.current = next;
    this.encoded = encoded;
    this.fanOut([next]);
  }
}

export interface Subscription {
  unsubscribe(): void;
}

function addIndex<V>(index: Map<string, Set<V>>, k: string, v: V): void {
  let set = index.get(k);
  if (!set) index.set(k, (set = new Set()));
  set.add(v);
}

function removeIndex<V>(index: Map<string, Set<V>>, k: string, v: V): void {
  const set = index.get(k);
  set?.delete(v);
  if (set?.size === 0) index.delete(k);
}

/**
 * Applies watch events to the store and refreshes the publishers they affect. Refreshing only
 * enqueues messages on listeners, so a watch event never waits for a subscriber.
 */
export class EndpointsWatcher {
  private readonly endpoints = new Map<string, EndpointPublisher>();
  private readonly profiles = new Map<string, ProfilePublisher>();
  private readonly bySvc = new Map<string, Set<EndpointPublisher | ProfilePublisher>>();
  private readonly byIp = new Map<string, Set<EndpointPublisher | ProfilePublisher>>();
  private readonly byProfile = new Map<string, Set<ProfilePublisher>>();

  constructor(
    readonly store: ClusterStore,
    readonly ctx: MeshContext,
  ) {}

  apply(event: ClusterEvent): void {
    this.refresh(this.store.apply(event));
  }

  refresh(affected: Affected): void {
    const todo = new Set<EndpointPublisher | ProfilePublisher>();
    const collect = <V>(index: Map<string, Set<V>>, keys: Set<string>): void => {
      for (const k of keys)
        for (const p of index.get(k) ?? []) todo.add(p as EndpointPublisher | ProfilePublisher);
    };
    collect(this.bySvc, affected.services);
    collect(this.byIp, affected.ips);
    collect(this.byProfile, affected.profiles);
    collect(this.byIp, this.clusterIpsOf(affected));
    for (const p of todo) p.refresh();
  }

  /** Cluster IPs of the services an event touched: `ip:port` lookups of a Service follow it. */
  private clusterIpsOf(affected: Affected): Set<string> {
    const ips = new Set<string>();
    const add = (ns: string, name: string): void => {
      const ip = this.store.service(ns, name)?.clusterIP;
      if (ip && ip !== "None") ips.add(ip);
    };
    for (const k of affected.services) add(...(k.split("/") as [string, string]));
    const suffix = `.svc.${this.ctx.clusterDomain}`;
    for (const k of affected.profiles) {
      const fqn = k.slice(k.indexOf("/") + 1);
      if (!fqn.endsWith(suffix)) continue;
      const [name, ns] = fqn.slice(0, -suffix.length).split(".");
      if (name && ns) add(ns, name);
    }
    return ips;
  }

  counts(): { endpointPublishers: number; profilePublishers: number } {
    return { endpointPublishers: this.endpoints.size, profilePublishers: this.profiles.size };
  }

  subscribeEndpoints(target: Target, listener: EndpointListener): Subscription {
    const key =
      target.kind === "service"
        ? `${target.fqn}:${target.port}#${target.hostname ?? ""}`
        : `${target.ip}:${target.port}`;
    let pub = this.endpoints.get(key);
    if (!pub) {
      pub = new EndpointPublisher(key, () => this.endpointSet(target));
      this.endpoints.set(key, pub);
      this.index(pub, target, undefined);
    }
    pub.subscribe(listener);
    const p = pub;
    return {
      unsubscribe: () =>
        this.release(p, listener, () => this.endpoints.delete(key), target, undefined),
    };
  }

  subscribeProfile(target: Target, clientNs: string, listener: ProfileListener): Subscription {
    const key = `${target.kind === "service" ? target.fqn : target.ip}:${target.port}@${clientNs}`;
    let pub = this.profiles.get(key);
    if (!pub) {
      pub = new ProfilePublisher(key, () => this.profileFor(target, clientNs));
      this.profiles.set(key, pub);
      this.index(pub, target, clientNs);
    }
    pub.subscribe(listener);
    const p = pub;
    return {
      unsubscribe: () =>
        this.release(p, listener, () => this.profiles.delete(key), target, clientNs),
    };
  }

  /** Closes every listener (shutdown). */
  closeAll(reason: string): void {
    for (const p of [...this.endpoints.values(), ...this.profiles.values()]) {
      for (const l of p.listeners) l.close(reason);
    }
  }

  private indexKeys(
    target: Target,
    clientNs: string | undefined,
  ): { svc?: string; ip?: string; names: string[] } {
    if (target.kind === "ip") return { ip: target.ip, names: [] };
    const svcKey = `${target.namespace}/${target.service}`;
    if (clientNs === undefined) return { svc: svcKey, names: [] };
    const [ns, name] = svcKey.split("/");
    const fqn = `${name}.${ns}.svc.${this.ctx.clusterDomain}`;
    const names = [`${ns}/${fqn}`, ...(clientNs && clientNs !== ns ? [`${clientNs}/${fqn}`] : [])];
    return { svc: svcKey, names };
  }

  private index(
    pub: EndpointPublisher | ProfilePublisher,
    target: Target,
    clientNs: string | undefined,
  ): void {
    const keys = this.indexKeys(target, clientNs);
    if (keys.svc) addIndex(this.bySvc, keys.svc, pub);
    if (keys.ip) addIndex(this.byIp, keys.ip, pub);
    for (const n of keys.names) addIndex(this.byProfile, n, pub as ProfilePublisher);
  }

  private release<T>(
    pub: EndpointPublisher | ProfilePublisher,
    listener: Listener<T>,
    drop: () => void,
    target: Target,
    clientNs: string | undefined,
  ): void {
    (pub.listeners as Set<Listener<T>>).delete(listener);
    if (pub.listeners.size > 0) return;
    drop();
    const keys = this.indexKeys(target, clientNs);
    if (keys.svc) removeIndex(this.bySvc, keys.svc, pub);
    if (keys.ip) removeIndex(this.byIp, keys.ip, pub);
    for (const n of keys.names) removeIndex(this.byProfile, n, pub as ProfilePublisher);
  }

  private endpointSet(target: Target): EndpointSet {
    const s = this.store;
    if (target.kind === "service") {
      const state = {
        service: s.service(target.namespace, target.service),
        slices: s.slices(target.namespace, target.service),
        pod: (ns: string, n: string) => s.pod(ns, n),
        podGone: (ns: string, n: string) => s.podGone(ns, n),
      };
      return serviceEndpointSet(state, target.port, target.hostname, this.ctx);
    }
    const svc = s.serviceByClusterIp(target.ip);
    if (svc) {
      const state = {
        service: svc,
        slices: s.slices(svc.namespace, svc.name),
        pod: (ns: string, n: string) => s.pod(ns, n),
        podGone: (ns: string, n: string) => s.podGone(ns, n),
      };
      return serviceEndpointSet(state, target.port, undefined, this.ctx);
    }
    return podEndpointSet(target.ip, target.port, s.podByIp(target.ip), this.ctx);
  }

  private profileFor(target: Target, clientNs: string): DestinationProfile {
    const s = this.store;
    const svc =
      target.kind === "service"
        ? s.service(target.namespace, target.service)
        : s.serviceByClusterIp(target.ip);
    const fqn = svc ? `${svc.name}.${svc.namespace}.svc.${this.ctx.clusterDomain}` : "";
    const ip = target.kind === "ip" ? target.ip : "";
    const pod = ip && !svc ? s.podByIp(ip) : undefined;
    const profile: ServiceProfileObject | undefined = svc
      ? chooseProfile((ns) => s.profile(ns, fqn), clientNs, svc.namespace)
      : undefined;
    return destinationProfile({
      fqn,
      port: target.port,
      service: svc,
      profile,
      endpoint: pod ? weightedAddr(ip, target.port, pod, this.ctx) : undefined,
      endpointOpaquePorts: pod?.opaquePorts,
    });
  }
}
