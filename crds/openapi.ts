// Small builders for structural OpenAPI v3 schemas, so every field states its description.

export interface Schema {
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: (string | number)[];
  default?: unknown;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  minProperties?: number;
  maxItems?: number;
  anyOf?: Schema[];
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-validations"?: CelRule[];
  additionalProperties?: Schema;
}

export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?:
    | "FieldValueInvalid"
    | "FieldValueForbidden"
    | "FieldValueRequired"
    | "FieldValueDuplicate";
}

/** Go duration syntax, as Kubernetes and the proxy parse it ("10s", "1m30s", "250ms"). */
export const DURATION_PATTERN = "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$";
/** A comma-separated list of ports and port ranges ("25,587,3306-3308"). */
export const PORT_LIST_PATTERN = "^([0-9]{1,5}(-[0-9]{1,5})?)(\\s*,\\s*[0-9]{1,5}(-[0-9]{1,5})?)*$";
/** A Kubernetes resource quantity ("100m", "64Mi", "1"). */
export const QUANTITY_PATTERN = "^[+]?[0-9]+(\\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$";

type Extra = Omit<Schema, "type" | "description">;

export function str(description: string, extra: Extra = {}): Schema {
  return { type: "string", description, ...extra };
}

export function int(description: string, extra: Extra = {}): Schema {
  return { type: "integer", description, ...extra };
}

export function num(description: string, extra: Extra = {}): Schema {
  return { type: "number", description, ...extra };
}

export function bool(description: string, extra: Extra = {}): Schema {
  return { type: "boolean", description, ...extra };
}

export function duration(description: string, extra: Extra = {}): Schema {
  return str(description, { pattern: DURATION_PATTERN, ...extra });
}

export function quantity(description: string): Schema {
  // The one anyOf shape structural schemas allow; the pattern applies to the string form.
  return {
    description,
    "x-kubernetes-int-or-string": true,
    anyOf: [{ type: "integer" }, { type: "string" }],
    pattern: QUANTITY_PATTERN,
  };
}

export function obj(
  description: string,
  properties: Record<string, Schema>,
  extra: Extra = {},
): Schema {
  return { type: "object", description, properties, ...extra };
}

export function arr(description: string, items: Schema, extra: Extra = {}): Schema {
  return { type: "array", description, items, ...extra };
}

/** The standard metav1.Condition shape, as `kubectl wait --for=condition=...` expects it. */
export function conditions(description: string): Schema {
  return arr(
    description,
    obj(
      "One aspect of the object's state.",
      {
        type: str("The aspect this condition describes, e.g. Ready.", { maxLength: 316 }),
        status: str("Whether the condition holds.", { enum: ["True", "False", "Unknown"] }),
        reason: str("A CamelCase word for why the condition is as it is.", { maxLength: 1024 }),
        message: str("What a person needs to know about the condition.", { maxLength: 32768 }),
        observedGeneration: int("The metadata.generation this condition was computed from.", {
          format: "int64",
          minimum: 0,
        }),
        lastTransitionTime: str("When the status last changed.", { format: "date-time" }),
      },
      { required: ["type", "status", "reason", "message", "lastTransitionTime"] },
    ),
    { "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] },
  );
}

export interface CrdVersion {
  name: string;
  schema: Schema;
  printerColumns: { name: string; type: string; jsonPath: string; description: string }[];
}

export interface CrdSpec {
  group: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  scope: "Namespaced" | "Cluster";
  description: string;
  version: CrdVersion;
}

/** Builds a CustomResourceDefinition with a /status subresource and the `weft` category. */
export function crd(spec: CrdSpec): Record<string, unknown> {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${spec.plural}.${spec.group}`,
      labels: { "app.kubernetes.io/part-of": "weft" },
    },
    spec: {
      group: spec.group,
      scope: spec.scope,
      names: {
        kind: spec.kind,
        listKind: `${spec.kind}List`,
        plural: spec.plural,
        singular: spec.singular,
        shortNames: spec.shortNames,
        categories: ["weft"],
      },
      versions: [
        {
          name: spec.version.name,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: spec.version.printerColumns,
          schema: { openAPIV3Schema: { ...spec.version.schema, description: spec.description } },
        },
      ],
    },
  };
}
