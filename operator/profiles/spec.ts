/**
 * The ServiceProfile shape (weft.io/v1alpha2, from crds/types.ts) under the names this package
 * uses, and parsers for its durations and weight quantities.
 */

import type {
  RequestMatch,
  ResponseMatch,
  RouteSpec as CrdRouteSpec,
  ServiceProfile,
  ServiceProfileSpec as CrdServiceProfileSpec,
} from "../../crds/types";
import { parseGoDurationMs } from "../../api/units";

export type RequestMatchSpec = RequestMatch;
export type ResponseMatchSpec = ResponseMatch;
export type RouteSpec = CrdRouteSpec;
export type ServiceProfileSpec = CrdServiceProfileSpec;
export type ServiceProfileObject = ServiceProfile;

/** Parses a Go duration (`200ms`, `1m30s`, `1.5s`) into milliseconds; undefined when malformed. */
export const parseDurationMs = parseGoDurationMs;

const SUFFIX: Record<string, number> = {
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  Ki: 1024,
  Mi: 1024 ** 2,
};

/** Parses a Kubernetes quantity (`500m`, `1`, `0.5`, `2k`) as a number; undefined when malformed. */
export function parseQuantity(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : undefined;
  const m = value.trim().match(/^(\d+(?:\.\d+)?|\.\d+)(m|k|M|G|Ki|Mi)?$/);
  if (!m) return undefined;
  return Number(m[1]) * SUFFIX[m[2] ?? ""];
}
