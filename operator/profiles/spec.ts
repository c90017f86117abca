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

export type RequestMatchSpec = RequestMatch;
export type ResponseMatchSpec = ResponseMatch;
export type RouteSpec = CrdRouteSpec;
export type ServiceProfileSpec = CrdServiceProfileSpec;
export type ServiceProfileObject = ServiceProfile;

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60000,
  h: 3600000,
};

/** Parses a Go duration (`200ms`, `1m30s`, `1.5s`) into milliseconds; undefined when malformed. */
export function parseDurationMs(text: string): number | undefined {
  const s = text.trim();
  if (s === "0") return 0;
  const re = /(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let matched = 0;
  while (matched < s.length) {
    re.lastIndex = matched;
    const m = re.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]];
    matched = re.lastIndex;
  }
  return matched > 0 ? total : undefined;
}

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
