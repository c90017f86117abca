// The Mesh CRD: one cluster-scoped object (usually named `weft`) that declares the control plane.
import {
  arr,
  bool,
  conditions,
  crd,
  duration,
  int,
  obj,
  PORT_LIST_PATTERN,
  quantity,
  Schema,
  str,
} from "./openapi";

export const DEFAULT_OPAQUE_PORTS = "25,587,3306,4444,5432,6379,9300,11211";
export const DEFAULT_PROXY_IMAGE = "docker.io/weft/proxy";
export const DEFAULT_CONTROLLER_IMAGE = "docker.io/weft/controller";
export const DEFAULT_PROMETHEUS_IMAGE = "docker.io/weft/prometheus:2.42.0";

function replicas(component: string): Schema {
  return int(`How many ${component} pods to run.`, { default: 1, minimum: 1, maximum: 10 });
}

function component(name: string, what: string, enabledByDefault: boolean): Schema {
  return obj(
    `The ${name} component: ${what}`,
    {
      enabled: bool(`Whether ${name} runs.`, { default: enabledByDefault }),
      replicas: replicas(name),
    },
    { default: {} },
  );
}

function resourcePair(resource: "cpu" | "memory", example: string): Schema {
  return obj(`The proxy's ${resource} request and limit (quantities, e.g. ${example}).`, {
    request: quantity(`The ${resource} the scheduler reserves for each proxy.`),
    limit: quantity(`The most ${resource} each proxy may use.`),
  });
}

const identity = obj(
  "How proxies get their certificates.",
  {
    issuanceLifetime: duration(
      "How long a proxy's leaf certificate is valid. Proxies renew at 70 %.",
      {
        default: "24h",
      },
    ),
    clockSkewAllowance: duration(
      "How far clocks may disagree; certificates start this much in the past.",
      { default: "20s" },
    ),
    issuer: obj(
      "Where the issuing CA (an intermediate under the trust anchors) comes from.",
      {
        secretName: str(
          "A kubernetes.io/tls Secret in weft-system holding the issuer's certificate and key " +
            "(tls.crt, tls.key; cert-manager can own it). Unset: the operator generates a root and an issuer.",
          { minLength: 1, maxLength: 253 },
        ),
        trustAnchorsConfigMap: str(
          "A ConfigMap in weft-system whose ca-bundle.crt holds the trust anchors (PEM, one or more). " +
            "Required with secretName; a bundle lets anchors rotate without downtime.",
          { minLength: 1, maxLength: 253 },
        ),
      },
      {
        default: {},
        "x-kubernetes-validations": [
          {
            rule: "has(self.secretName) == has(self.trustAnchorsConfigMap)",
            message:
              "set both identity.issuer.secretName and identity.issuer.trustAnchorsConfigMap, or neither (to have them generated)",
          },
        ],
      },
    ),
  },
  {
    default: {},
    "x-kubernetes-validations": [
      {
        rule: "!has(self.issuanceLifetime) || (duration(self.issuanceLifetime) >= duration('1m') && duration(self.issuanceLifetime) <= duration('8760h'))",
        message: "identity.issuanceLifetime must be between 1m and 8760h (one year)",
      },
      {
        rule: "!has(self.clockSkewAllowance) || !has(self.issuanceLifetime) || duration(self.clockSkewAllowance) < duration(self.issuanceLifetime)",
        message: "identity.clockSkewAllowance must be shorter than identity.issuanceLifetime",
      },
    ],
  },
);

const proxy = obj(
  "Defaults for every injected proxy; pods and namespaces override them with config.weft.io/* annotations.",
  {
    image: str("The proxy image, without tag.", { default: DEFAULT_PROXY_IMAGE, minLength: 1 }),
    version: str("The proxy image tag. Unset: the Mesh's version."),
    logLevel: str(
      "The proxy's log filter (error, warn, info, debug, trace; per module: warn,weft=info).",
      {
        default: "warn,weft=info",
        pattern: "^[a-z_=,:.]+$",
      },
    ),
    logFormat: str("How the proxy writes logs.", { enum: ["plain", "json"], default: "plain" }),
    cpu: resourcePair("cpu", "100m"),
    memory: resourcePair("memory", "64Mi"),
    opaquePorts: str(
      "Ports whose traffic is proxied as opaque TCP without protocol detection (servers that speak first).",
      { default: DEFAULT_OPAQUE_PORTS, pattern: PORT_LIST_PATTERN },
    ),
    skipInboundPorts: str("Inbound ports that bypass the proxy entirely.", {
      pattern: PORT_LIST_PATTERN,
    }),
    skipOutboundPorts: str("Outbound ports that bypass the proxy entirely.", {
      pattern: PORT_LIST_PATTERN,
    }),
    nativeSidecar: bool(
      "Inject the proxy as a native sidecar (an init container with restartPolicy Always): it starts before and stops after the app, so Jobs complete.",
      { default: true },
    ),
    await: bool("Without native sidecars: hold the app's start until the proxy is ready.", {
      default: true,
    }),
  },
  { default: {} },
);

const prometheus = obj(
  "Metrics storage: the bundled Prometheus, or one of your own.",
  {
    enabled: bool("Whether the bundled Prometheus runs.", { default: true }),
    replicas: replicas("prometheus"),
    image: str("The bundled Prometheus image, with its tag.", {
      default: DEFAULT_PROMETHEUS_IMAGE,
      minLength: 1,
    }),
    externalURL: str(
      "The URL of your own Prometheus (it must scrape the proxies' weft-admin port).",
      {
        pattern: "^https?://",
      },
    ),
  },
  {
    default: {},
    "x-kubernetes-validations": [
      {
        rule: "!(self.enabled && has(self.externalURL))",
        message:
          "components.prometheus: set enabled: false when using externalURL (the bundled Prometheus and an external one exclude each other)",
      },
    ],
  },
);

const heartbeat = obj(
  "A daily, anonymous usage summary (version, meshed pods, Kubernetes version). Off unless enabled.",
  {
    enabled: bool("Whether the heartbeat CronJob runs.", { default: false }),
    url: str("Where to post the summary. Unset: it is only written to the job's log.", {
      pattern: "^https?://",
    }),
  },
  { default: {} },
);

const components = obj(
  "Which control-plane components run, and how many replicas each.",
  {
    destination: obj(
      "Service discovery and profiles for proxies.",
      { replicas: replicas("destination") },
      { default: {} },
    ),
    identity: obj(
      "The certificate authority for proxies.",
      { replicas: replicas("identity") },
      { default: {} },
    ),
    tap: component("tap", "live request streams from proxies.", true),
    api: component("api", "the public API for the CLI and dashboard.", true),
    web: component("web", "the dashboard.", true),
    prometheus,
    heartbeat,
  },
  { default: {} },
);

const spec = obj(
  "What the control plane should be.",
  {
    version: str("The Weft version of the control plane and, by default, of injected proxies.", {
      default: "0.1.0",
      minLength: 1,
    }),
    controllerImage: str("The control-plane image, without tag.", {
      default: DEFAULT_CONTROLLER_IMAGE,
      minLength: 1,
    }),
    trustDomain: str(
      "The trust domain in every proxy identity (<sa>.<ns>.serviceaccount.identity.weft-system.<trustDomain>).",
      {
        default: "cluster.local",
        pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
        maxLength: 253,
      },
    ),
    identity,
    proxy,
    components,
    excludedNamespaces: arr(
      "Namespaces whose pods are never injected (kube-system and weft-system never are).",
      str("A namespace name.", { pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", maxLength: 63 }),
      { "x-kubernetes-list-type": "set" },
    ),
  },
  { default: {} },
);

const status = obj("What the operator observed.", {
  observedGeneration: int("The metadata.generation the status describes.", { format: "int64" }),
  conditions: conditions("Ready, Progressing and Degraded, with reasons."),
  version: str("The version of the running control plane."),
  meshed: str("Meshed pods out of all pods in namespaces that may be meshed, e.g. 12/15."),
  meshedPods: int("How many pods run a proxy of this mesh."),
  mtls: str(
    "The share of the HTTP requests meshed pods sent in the last two minutes that went over mTLS, from Prometheus (e.g. 100%); '-' until Prometheus has seen such requests.",
  ),
  components: arr(
    "Readiness of each control-plane component.",
    obj(
      "One component.",
      {
        name: str("The component, e.g. destination."),
        ready: bool("Whether all its replicas are ready."),
        readyReplicas: int("Replicas ready."),
        replicas: int("Replicas wanted."),
      },
      { required: ["name"] },
    ),
    { "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] },
  ),
});

export const meshCrd = crd({
  group: "weft.io",
  kind: "Mesh",
  plural: "meshes",
  singular: "mesh",
  shortNames: ["mesh"],
  scope: "Cluster",
  description:
    "A Weft service mesh: the control plane the operator runs in weft-system and the defaults for every proxy.",
  version: {
    name: "v1alpha1",
    schema: {
      type: "object",
      properties: {
        apiVersion: str("The versioned schema of this object (weft.io/v1alpha1)."),
        kind: str("Mesh."),
        metadata: { type: "object" }, // the API server owns metadata's schema
        spec,
        status,
      },
    },
    printerColumns: [
      {
        name: "Ready",
        type: "string",
        jsonPath: '.status.conditions[?(@.type=="Ready")].status',
        description: "Whether the control plane is ready.",
      },
      {
        name: "Version",
        type: "string",
        jsonPath: ".status.version",
        description: "The running version.",
      },
      {
        name: "Meshed",
        type: "string",
        jsonPath: ".status.meshed",
        description: "Meshed pods out of all.",
      },
      {
        name: "mTLS",
        type: "string",
        jsonPath: ".status.mtls",
        description: "Share of meshed traffic under mTLS.",
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
