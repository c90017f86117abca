// Validates objects against a CRD's schema offline (no API server): the same structure,
// patterns, enums, ranges and unknown-field rejection the API server applies with
// `kubectl apply` (strict field validation). CEL rules are the API server's; these run in e2e.
import Ajv, { ErrorObject, ValidateFunction } from "ajv";
import { Schema } from "./openapi";

type Json = Record<string, unknown>;

/** Where the schema of a CRD's first version is. */
export function crdSchema(crd: Json): Schema {
  const spec = crd.spec as { versions: { schema: { openAPIV3Schema: Schema } }[] };
  return spec.versions[0].schema.openAPIV3Schema;
}

// Kubernetes prunes or (with strict validation) rejects unknown fields; JSON Schema allows them.
// Close every object that lists its properties, and drop the Kubernetes-only keywords.
function toJsonSchema(s: Schema): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(s)) {
    if (key.startsWith("x-kubernetes-") || key === "format") continue;
    out[key] = value;
  }
  if (s.properties) {
    out.properties = Object.fromEntries(
      Object.entries(s.properties).map(([k, v]) => [k, toJsonSchema(v)]),
    );
    if (!s["x-kubernetes-preserve-unknown-fields"] && Object.keys(s.properties).length > 0) {
      out.additionalProperties = false;
    }
  }
  if (s.items) out.items = toJsonSchema(s.items);
  if (s.anyOf) out.anyOf = s.anyOf.map(toJsonSchema);
  return out;
}

/** "/spec/routes/0/condition" → "spec.routes[0].condition", as kubectl names fields. */
export function fieldPath(pointer: string, extra?: string): string {
  const parts = pointer.split("/").filter(Boolean);
  let path = "";
  for (const part of parts) path += /^\d+$/.test(part) ? `[${part}]` : path ? `.${part}` : part;
  if (extra) path += path ? `.${extra}` : extra;
  return path || "(root)";
}

function describe(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "additionalProperties":
      return `${fieldPath(error.instancePath, String(params.additionalProperty))}: unknown field; remove it (see kubectl explain)`;
    case "required":
      return `${fieldPath(error.instancePath, String(params.missingProperty))}: required`;
    case "enum":
      return `${fieldPath(error.instancePath)}: must be one of ${(params.allowedValues as unknown[]).join(", ")}`;
    case "minProperties": {
      const fields = Object.keys((error.parentSchema as Schema | undefined)?.properties ?? {});
      return `${fieldPath(error.instancePath)}: must not be empty; set one of ${fields.join(", ")}`;
    }
    case "pattern":
      return `${fieldPath(error.instancePath)}: must match ${String(params.pattern)}`;
    default:
      return `${fieldPath(error.instancePath)}: ${error.message ?? error.keyword}`;
  }
}

export class CrdValidator {
  private readonly check: ValidateFunction;

  constructor(crd: Json) {
    const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
    this.check = ajv.compile(toJsonSchema(crdSchema(crd)));
  }

  /** Every problem with `object`, each naming the field and what would be valid; [] when valid. */
  errors(object: unknown): string[] {
    if (this.check(object)) return [];
    const messages = (this.check.errors ?? []).filter((e) => e.keyword !== "anyOf").map(describe);
    return [...new Set(messages)];
  }
}
