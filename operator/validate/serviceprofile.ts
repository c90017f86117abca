// ServiceProfile rules from REFERENCE.md that the schema cannot express (or expresses with a
// message users cannot act on). Every message names the field and says what would be valid.

import type {
  RequestMatch,
  ResponseMatch,
  RetryBudget,
  RouteSpec,
  ServiceProfile,
  WeightedDst,
} from "../../crds/types";

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const QUANTITY = /^(\d+(\.\d+)?|\.\d+)(m|k|M|G|Ki|Mi|Gi)?$/;

type Problems = string[];

export function validDuration(v: unknown): boolean {
  return typeof v === "string" && DURATION.test(v);
}

function checkName(name: string | undefined, out: Problems): void {
  if (!name) return;
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    out.push(
      `metadata.name: "${name}" is not a DNS-1123 subdomain; use the service's FQDN in lower case, e.g. web.shop.svc.cluster.local`,
    );
  }
}

function isEmpty(o: object | undefined): boolean {
  return o === undefined || o === null || Object.keys(o).length === 0;
}

function checkRegex(path: string, regex: string, out: Problems): void {
  try {
    new RegExp(`^(?:${regex})$`);
  } catch (e) {
    out.push(
      `${path}.pathRegex: "${regex}" is not a valid regular expression (${(e as Error).message})`,
    );
  }
}

function checkRequestList(path: string, list: RequestMatch[] | undefined, out: Problems): void {
  if (list === undefined) return;
  if (list.length === 0) out.push(`${path}: must list at least one match (or be omitted)`);
  list.forEach((m, i) => checkRequestMatch(`${path}[${i}]`, m, out));
}

export function checkRequestMatch(path: string, m: RequestMatch | undefined, out: Problems): void {
  if (isEmpty(m)) {
    out.push(`${path}: must not be empty; set at least one of method, pathRegex, all, any, not`);
    return;
  }
  const match = m as RequestMatch;
  if (match.method !== undefined && !HTTP_TOKEN.test(match.method)) {
    out.push(`${path}.method: "${match.method}" is not an HTTP method; use e.g. GET or POST`);
  }
  if (match.pathRegex !== undefined) checkRegex(path, match.pathRegex, out);
  checkRequestList(`${path}.all`, match.all, out);
  checkRequestList(`${path}.any`, match.any, out);
  if (match.not !== undefined) checkRequestMatch(`${path}.not`, match.not, out);
}

function checkStatus(path: string, s: { min?: number; max?: number }, out: Problems): void {
  const inRange = (v: number | undefined): boolean =>
    v === undefined || (Number.isInteger(v) && v >= 100 && v <= 599);
  if (!inRange(s.min)) out.push(`${path}.min: ${s.min} is outside 100-599`);
  if (!inRange(s.max)) out.push(`${path}.max: ${s.max} is outside 100-599`);
  if (s.min !== undefined && s.max !== undefined && s.max < s.min) {
    out.push(`${path}: max (${s.max}) must be greater than or equal to min (${s.min})`);
  }
  if (s.min === undefined && s.max === undefined) out.push(`${path}: set min and/or max (100-599)`);
}

function checkResponseList(path: string, list: ResponseMatch[] | undefined, out: Problems): void {
  if (list === undefined) return;
  if (list.length === 0) out.push(`${path}: must list at least one match (or be omitted)`);
  list.forEach((m, i) => checkResponseMatch(`${path}[${i}]`, m, out));
}

export function checkResponseMatch(
  path: string,
  m: ResponseMatch | undefined,
  out: Problems,
): void {
  if (isEmpty(m)) {
    out.push(`${path}: must not be empty; set at least one of status, all, any, not`);
    return;
  }
  const match = m as ResponseMatch;
  if (match.status !== undefined) checkStatus(`${path}.status`, match.status, out);
  checkResponseList(`${path}.all`, match.all, out);
  checkResponseList(`${path}.any`, match.any, out);
  if (match.not !== undefined) checkResponseMatch(`${path}.not`, match.not, out);
}

function checkRoute(path: string, r: RouteSpec, seen: Set<string>, out: Problems): void {
  if (!r.name) out.push(`${path}.name: required; give the route a name, e.g. "GET /books/{id}"`);
  else if (seen.has(r.name))
    out.push(`${path}.name: "${r.name}" is used by another route; route names must be unique`);
  else seen.add(r.name);
  if (r.condition === undefined)
    out.push(`${path}.condition: required; e.g. {method: GET, pathRegex: /books/[^/]*}`);
  else checkRequestMatch(`${path}.condition`, r.condition, out);
  (r.responseClasses ?? []).forEach((c, i) => {
    const p = `${path}.responseClasses[${i}].condition`;
    if (c.condition === undefined) out.push(`${p}: required; e.g. {status: {min: 500, max: 599}}`);
    else checkResponseMatch(p, c.condition, out);
  });
  if (r.timeout !== undefined && !validDuration(r.timeout)) {
    out.push(`${path}.timeout: "${r.timeout}" is not a duration; use e.g. 300ms, 2s or 1m`);
  }
}

function checkBudget(b: RetryBudget | undefined, out: Problems): void {
  if (b === undefined) return;
  const p = "spec.retryBudget";
  if (typeof b.retryRatio !== "number") out.push(`${p}.retryRatio: required; a ratio such as 0.2`);
  else if (b.retryRatio < 0)
    out.push(`${p}.retryRatio: ${b.retryRatio} is negative; use a ratio >= 0 such as 0.2`);
  if (typeof b.minRetriesPerSecond !== "number")
    out.push(`${p}.minRetriesPerSecond: required; an integer such as 10`);
  else if (b.minRetriesPerSecond < 0 || !Number.isInteger(b.minRetriesPerSecond)) {
    out.push(`${p}.minRetriesPerSecond: ${b.minRetriesPerSecond} must be an integer >= 0`);
  }
  if (!validDuration(b.ttl)) out.push(`${p}.ttl: "${b.ttl ?? ""}" is not a duration; use e.g. 10s`);
}

function checkDst(d: WeightedDst, i: number, out: Problems): void {
  const p = `spec.dstOverrides[${i}]`;
  if (!d.authority) out.push(`${p}.authority: required; e.g. web-v2.shop.svc.cluster.local:80`);
  const w = String(d.weight ?? "");
  if (!QUANTITY.test(w))
    out.push(`${p}.weight: "${w}" is not a non-negative quantity; use e.g. 500m or 1`);
}

function checkPorts(ports: number[] | undefined, out: Problems): void {
  (ports ?? []).forEach((port, i) => {
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      out.push(`spec.opaquePorts[${i}]: ${port} is not a port 1-65535`);
  });
}

/** [] when valid. */
export function validateServiceProfile(sp: ServiceProfile): string[] {
  const out: Problems = [];
  checkName(sp.metadata?.name, out);
  const spec = sp.spec ?? {};
  const seen = new Set<string>();
  (spec.routes ?? []).forEach((r, i) => checkRoute(`spec.routes[${i}]`, r ?? {}, seen, out));
  checkBudget(spec.retryBudget, out);
  (spec.dstOverrides ?? []).forEach((d, i) => checkDst(d ?? {}, i, out));
  checkPorts(spec.opaquePorts, out);
  return out;
}
