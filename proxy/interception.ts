// The original-destination seam. The default comes from proxy/native/original-dst, which itself
// reports (instead of throwing) when its binding is missing, so the proxy still starts and says
// why it cannot intercept; tests substitute their own.

import type { Socket } from "node:net";
import { interceptionAvailable, originalDestination } from "./native/original-dst";

export interface OriginalDst {
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
}

export type InterceptionStatus =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: string };

export interface Interception {
  originalDestination(socket: Socket): OriginalDst | undefined;
  interceptionAvailable(): InterceptionStatus;
}

export function unavailable(reason: string): Interception {
  return {
    originalDestination: () => undefined,
    interceptionAvailable: () => ({ ok: false, reason }),
  };
}

export function loadInterception(): Interception {
  return { originalDestination, interceptionAvailable };
}
