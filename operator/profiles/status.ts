/**
 * ServiceProfile status decisions, as pure functions: what is wrong with a spec that the schema
 * and CEL could not catch (a path regex that does not compile, a malformed duration or weight),
 * and the resulting `status` (observedGeneration + an `Accepted` condition).
 */
import type { Condition, ServiceProfile, ServiceProfileStatus } from "../../crds/types";
import {
  parseDurationMs,
  parseQuantity,
  type RequestMatchSpec,
  type ResponseMatchSpec,
  type ServiceProfileSpec,
} from "./spec";

export const ACCEPTED = "Accepted";

/** One problem, named by its field path so the user can find it. */
export interface Problem {
  field: string;
  reason:
    | "InvalidRegex"
    | "InvalidDuration"
    | "InvalidWeight"
    | "InvalidStatusRange"
    | "InvalidName";
  message: string;
}

/** Path regexes are anchored and compiled by the proxy; one that does not compile never matches. */
function regexProblem(regex: string, field: string): Problem | undefined {
  try {
    new RegExp(`^(?:${regex})$`);
    return undefined;
  } catch (err) {
    return {
      field,
      reason: "InvalidRegex",
      message: `${field}: ${JSON.stringify(regex)} does not compile: ${(err as Error).message}`,
    };
  }
}

function requestProblems(m: RequestMatchSpec | undefined, field: string, depth = 0): Problem[] {
  if (!m || depth > 16) return [];
  const out: Problem[] = [];
  if (m.pathRegex !== undefined) {
    const p = regexProblem(m.pathRegex, `${field}.pathRegex`);
    if (p) out.push(p);
  }
  (m.all ?? []).forEach((x, i) => out.push(...requestProblems(x, `${field}.all[${i}]`, depth + 1)));
  (m.any ?? []).forEach((x, i) => out.push(...requestProblems(x, `${field}.any[${i}]`, depth + 1)));
  out.push(...requestProblems(m.not, `${field}.not`, depth + 1));
  return out;
}

function responseProblems(m: ResponseMatchSpec | undefined, field: string, depth = 0): Problem[] {
  if (!m || depth > 16) return [];
  const out: Problem[] = [];
  const s = m.status;
  if (s && (s.min ?? 100) > (s.max ?? 599)) {
    out.push({
      field: `${field}.status`,
      reason: "InvalidStatusRange",
      message: `${field}.status: min ${s.min} is above max ${s.max}`,
    });
  }
  (m.all ?? []).forEach((x, i) =>
    out.push(...responseProblems(x, `${field}.all[${i}]`, depth + 1)),
  );
  (m.any ?? []).forEach((x, i) =>
    out.push(...responseProblems(x, `${field}.any[${i}]`, depth + 1)),
  );
  out.push(...responseProblems(m.not, `${field}.not`, depth + 1));
  return out;
}

function durationProblem(value: string | undefined, field: string): Problem[] {
  if (value === undefined || parseDurationMs(value) !== undefined) return [];
  return [
    {
      field,
      reason: "InvalidDuration",
      message: `${field}: ${JSON.stringify(value)} is not a duration like "300ms" or "10s"`,
    },
  ];
}

function routeProblems(spec: ServiceProfileSpec): Problem[] {
  return (spec.routes ?? []).flatMap((r, i) => [
    ...requestProblems(r.condition, `spec.routes[${i}].condition`),
    ...(r.responseClasses ?? []).flatMap((rc, j) =>
      responseProblems(rc.condition, `spec.routes[${i}].responseClasses[${j}].condition`),
    ),
    ...durationProblem(r.timeout, `spec.routes[${i}].timeout`),
  ]);
}

function overrideProblems(spec: ServiceProfileSpec): Problem[] {
  return (spec.dstOverrides ?? []).flatMap((d, i) =>
    parseQuantity(d.weight) === undefined
      ? [
          {
            field: `spec.dstOverrides[${i}].weight`,
            reason: "InvalidWeight" as const,
            message: `spec.dstOverrides[${i}].weight: ${JSON.stringify(d.weight)} is not a quantity like "500m"`,
          },
        ]
      : [],
  );
}

/** A profile is named after the FQDN of its Service: `<svc>.<ns>.svc.<cluster-domain>`. */
function nameProblem(name: string | undefined): Problem[] {
  if (
    name &&
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\.[a-z0-9]([-a-z0-9]*[a-z0-9])?\.svc\.[a-z0-9.-]+$/.test(name)
  )
    return [];
  return [
    {
      field: "metadata.name",
      reason: "InvalidName",
      message: `metadata.name: ${JSON.stringify(name ?? "")} is not <service>.<namespace>.svc.<cluster-domain>; no proxy will look this profile up`,
    },
  ];
}

/** Every problem of a ServiceProfile, in field order. */
export function profileProblems(sp: ServiceProfile): Problem[] {
  const spec = sp.spec ?? {};
  return [
    ...nameProblem(sp.metadata?.name),
    ...routeProblems(spec),
    ...durationProblem(spec.retryBudget?.ttl, "spec.retryBudget.ttl"),
    ...overrideProblems(spec),
  ];
}

/** The Accepted condition for these problems; `lastTransitionTime` moves only when the status flips. */
export function acceptedCondition(
  problems: Problem[],
  generation: number,
  now: Date,
  previous?: Condition,
): Condition {
  const ok = problems.length === 0;
  const status = ok ? "True" : "False";
  return {
    type: ACCEPTED,
    status,
    reason: ok ? ACCEPTED : problems[0].reason,
    message: ok
      ? "the profile is valid and served to proxies"
      : problems.map((p) => p.message).join("; "),
    observedGeneration: generation,
    lastTransitionTime:
      previous?.status === status ? previous.lastTransitionTime : now.toISOString(),
  };
}

/** The status a ServiceProfile should have. */
export function decideStatus(sp: ServiceProfile, now: Date): ServiceProfileStatus {
  const generation = sp.metadata?.generation ?? 0;
  const previous = sp.status?.conditions?.find((c) => c.type === ACCEPTED);
  const others = (sp.status?.conditions ?? []).filter((c) => c.type !== ACCEPTED);
  return {
    observedGeneration: generation,
    conditions: [...others, acceptedCondition(profileProblems(sp), generation, now, previous)],
  };
}

/** Whether writing `next` would change anything (so the reconciler can skip the write). */
export function statusChanged(
  current: ServiceProfileStatus | undefined,
  next: ServiceProfileStatus,
): boolean {
  return JSON.stringify(current ?? {}) !== JSON.stringify(next);
}
