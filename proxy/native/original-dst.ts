import type * as net from "node:net";
import { loadAddon, type OriginalDstAddon } from "./load-addon";

export interface OriginalDestination {
  address: string;
  port: number;
  family: 4 | 6;
}

export type InterceptionStatus = { ok: true } | { ok: false; reason: string };

type Loaded = { addon: OriginalDstAddon } | { reason: string };

let loaded: Loaded | undefined;

function load(): Loaded {
  if (!loaded) {
    try {
      loaded = { addon: loadAddon() };
    } catch (err) {
      loaded = { reason: (err as Error).message };
    }
  }
  return loaded;
}

/** The addon, loaded once for the process (start-up pages use it too), or why it is missing. */
export function nativeAddon(): OriginalDstAddon | NativeAddonMissing {
  const l = load();
  return "addon" in l ? l.addon : { missing: l.reason };
}

export interface NativeAddonMissing {
  readonly missing: string;
}

/** Whether redirected connections can be traced back to their original destination, and if not, why. */
export function interceptionAvailable(): InterceptionStatus {
  const l = load();
  return "addon" in l ? { ok: true } : { ok: false, reason: l.reason };
}

function socketFd(socket: net.Socket): number | undefined {
  const handle = (socket as unknown as { _handle?: { fd?: number } })._handle;
  const fd = handle?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : undefined;
}

/**
 * The destination the peer dialled before iptables redirected it to us. Undefined when the
 * addon is missing, the socket is closed, or the kernel holds no NAT record for it.
 */
export function originalDestination(socket: net.Socket): OriginalDestination | undefined {
  const l = load();
  const fd = socketFd(socket);
  if (!("addon" in l) || fd === undefined) return undefined;
  const r = l.addon.getOriginalDst(fd);
  if (typeof r === "number") return undefined;
  return { address: r[0], port: r[1], family: r[2] === 6 ? 6 : 4 };
}

/** For tests: forget the loaded addon so the next call loads again. */
export function resetForTests(): void {
  loaded = undefined;
}
