// The ServiceProfile CRD: Linkerd's v1alpha2 schema under weft.io, so profiles port by changing
// apiVersion. Request and response matches nest (all/any/not); structural schemas cannot
// recurse, so the nesting is spelled out to MATCH_DEPTH levels, which real profiles never exceed.
import {
  arr,
  bool,
  conditions,
  crd,
  duration,
  int,
  num,
  obj,
  quantity,
  Schema,
  str,
} from "./openapi";

export const MATCH_DEPTH = 3;

// Array bounds keep the API server's CEL cost estimate within its budget.
const MAX_ROUTES = 100;
const MAX_CLASSES = 16;
const MAX_NESTED = 8;

/** all / any / not over a match one level down. */
function combinators(inner: Schema): Record<string, Schema> {
  const bounds = { minItems: 1, maxItems: MAX_NESTED };
  return {
    all: arr("Matches when every one of these matches.", inner, bounds),
    any: arr("Matches when at least one of these matches.", inner, bounds),
    not: { ...inner, description: "Matches when this does not." },
  };
}

function requestMatch(depth: number): Schema {
  const props: Record<string, Schema> = {
    method: str("The HTTP method the request must have (upper case).", {
      pattern: "^[A-Z]+$",
      maxLength: 32,
    }),
    pathRegex: str(
      "A regular expression the whole request path must match (anchored at both ends), e.g. /books/[^/]+.",
      { minLength: 1 },
    ),
  };
  if (depth > 1) Object.assign(props, combinators(requestMatch(depth - 1)));
  // minProperties: an empty condition would match everything by accident.
  return obj("A condition on the request; several fields set must all hold. Not empty.", props, {
    minProperties: 1,
  });
}

function responseMatch(depth: number): Schema {
  // max >= min is a CEL rule at the top level only: at every nesting level its estimated cost
  // would exceed the API server's budget. The validating webhook checks the nested ones.
  const rangeRule =
    depth === MATCH_DEPTH
      ? {
          "x-kubernetes-validations": [
            {
              rule: "!has(self.min) || !has(self.max) || self.max >= self.min",
              message: "status.max must be >= status.min",
            },
          ],
        }
      : {};
  const props: Record<string, Schema> = {
    status: obj(
      "The response status must fall in this inclusive range.",
      {
        min: int("The lowest status that matches.", { minimum: 100, maximum: 599 }),
        max: int("The highest status that matches.", { minimum: 100, maximum: 599 }),
      },
      rangeRule,
    ),
  };
  if (depth > 1) Object.assign(props, combinators(responseMatch(depth - 1)));
  return obj("A condition on the response. Not empty.", props, { minProperties: 1 });
}

const route = obj(
  "A named group of requests with its own metrics, retries and timeout. The first matching route wins.",
  {
    name: str("The route's name: the rt_route label of route metrics.", { minLength: 1 }),
    condition: requestMatch(MATCH_DEPTH),
    responseClasses: arr(
      "How responses count: the first matching class wins; a response no class matches is a success.",
      obj(
        "A class of responses.",
        {
          condition: responseMatch(MATCH_DEPTH),
          isFailure: bool(
            "Whether responses of this class count as failures (and may be retried).",
            {
              default: false,
            },
          ),
        },
        { required: ["condition"] },
      ),
      { maxItems: MAX_CLASSES },
    ),
    isRetryable: bool(
      "Whether failed requests of this route may be retried (within the retry budget).",
      {
        default: false,
      },
    ),
    timeout: duration(
      "How long a request of this route may take before the proxy answers 504, e.g. 300ms.",
    ),
  },
  { required: ["name", "condition"] },
);

const retryBudget = obj(
  "How many retries the proxy may add, as a share of requests, so retries cannot multiply an outage.",
  {
    retryRatio: num("Retries allowed per original request, e.g. 0.2 for 20 % more load.", {
      minimum: 0,
    }),
    minRetriesPerSecond: int("Retries always allowed per second, whatever the ratio.", {
      minimum: 0,
    }),
    ttl: duration("The window over which the ratio is computed, e.g. 10s."),
  },
  { required: ["retryRatio", "minRetriesPerSecond", "ttl"] },
);

const dstOverride = obj(
  "A backend that receives a share of the traffic (traffic split).",
  {
    authority: str("The backend's authority, e.g. web-v2.shop.svc.cluster.local:80.", {
      minLength: 1,
    }),
    weight: quantity("The backend's share relative to the others, as a quantity (1, 500m)."),
  },
  { required: ["authority", "weight"] },
);

const spec = obj("Per-route behaviour of requests to the service this profile is named after.", {
  routes: arr("The service's routes, matched in order.", route, {
    "x-kubernetes-list-type": "atomic",
    maxItems: MAX_ROUTES,
  }),
  retryBudget,
  dstOverrides: arr("Where to send this service's traffic instead, by weight.", dstOverride),
  opaquePorts: arr(
    "Ports of the service whose traffic is opaque TCP (no protocol detection).",
    int("A port.", { minimum: 1, maximum: 65535 }),
    { "x-kubernetes-list-type": "set" },
  ),
});

const status = obj("What the operator observed.", {
  observedGeneration: int("The metadata.generation the status describes.", { format: "int64" }),
  conditions: conditions("Accepted: whether proxies can use this profile as written."),
});

// DNS-1123 subdomain: the name is the service's FQDN (web.shop.svc.cluster.local).
const nameRule = {
  rule: "self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$') && size(self.metadata.name) <= 253",
  message:
    "metadata.name must be the service's FQDN, a DNS-1123 subdomain such as web.shop.svc.cluster.local",
};

export const serviceProfileCrd = crd({
  group: "weft.io",
  kind: "ServiceProfile",
  plural: "serviceprofiles",
  singular: "serviceprofile",
  shortNames: ["sp"],
  scope: "Namespaced",
  description:
    "Per-route retries, timeouts, metrics and traffic split for one service, named by its FQDN. Linkerd's v1alpha2 schema.",
  version: {
    name: "v1alpha2",
    schema: {
      type: "object",
      properties: {
        apiVersion: str("The versioned schema of this object (weft.io/v1alpha2)."),
        kind: str("ServiceProfile."),
        metadata: { type: "object" }, // the API server owns metadata's schema
        spec,
        status,
      },
      "x-kubernetes-validations": [nameRule],
    },
    printerColumns: [
      {
        name: "Routes",
        type: "string",
        jsonPath: ".spec.routes[*].name",
        description: "The routes' names.",
      },
      {
        name: "Retry-Ratio",
        type: "number",
        jsonPath: ".spec.retryBudget.retryRatio",
        description: "Retries per request allowed.",
      },
      {
        name: "Age",
        type: "date",
        jsonPath: ".metadata.creationTimestamp",
        description: "Since creation.",
      },
    ],
  },
});
