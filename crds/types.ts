// TypeScript shapes of the Weft CRDs. Written once; crds/types.test.ts checks them against the
// schemas (every schema field appears in a fully populated typed object, and it validates).

export const GROUP = "weft.io";
export const MESH_VERSION = "v1alpha1";
export const SERVICE_PROFILE_VERSION = "v1alpha2";

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

/** A quantity as Kubernetes accepts it: 1, "500m", "64Mi". */
export type Quantity = number | string;

export interface ResourcePair {
  request?: Quantity;
  limit?: Quantity;
}

export interface MeshIdentity {
  /** Go duration, e.g. "24h". */
  issuanceLifetime?: string;
  /** Go duration, e.g. "20s". */
  clockSkewAllowance?: string;
  issuer?: {
    secretName?: string;
    trustAnchorsConfigMap?: string;
  };
}

export interface MeshProxyDefaults {
  image?: string;
  version?: string;
  logLevel?: string;
  logFormat?: "plain" | "json";
  cpu?: ResourcePair;
  memory?: ResourcePair;
  /** Comma-separated ports and ranges. */
  opaquePorts?: string;
  skipInboundPorts?: string;
  skipOutboundPorts?: string;
  nativeSidecar?: boolean;
  await?: boolean;
}

export interface ComponentSpec {
  enabled?: boolean;
  replicas?: number;
}

export interface MeshComponents {
  destination?: { replicas?: number };
  identity?: { replicas?: number };
  tap?: ComponentSpec;
  api?: ComponentSpec;
  web?: ComponentSpec;
  prometheus?: ComponentSpec & { image?: string; externalURL?: string };
  heartbeat?: { enabled?: boolean; url?: string };
}

export interface MeshSpec {
  version?: string;
  controllerImage?: string;
  trustDomain?: string;
  identity?: MeshIdentity;
  proxy?: MeshProxyDefaults;
  components?: MeshComponents;
  excludedNamespaces?: string[];
}

export interface ComponentStatus {
  name: string;
  ready?: boolean;
  readyReplicas?: number;
  replicas?: number;
}

export interface MeshStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  version?: string;
  meshed?: string;
  meshedPods?: number;
  mtls?: string;
  components?: ComponentStatus[];
}

export interface Mesh {
  apiVersion?: "weft.io/v1alpha1";
  kind?: "Mesh";
  metadata?: ObjectMeta;
  spec?: MeshSpec;
  status?: MeshStatus;
}

export interface RequestMatch {
  method?: string;
  pathRegex?: string;
  all?: RequestMatch[];
  any?: RequestMatch[];
  not?: RequestMatch;
}

export interface ResponseMatch {
  status?: { min?: number; max?: number };
  all?: ResponseMatch[];
  any?: ResponseMatch[];
  not?: ResponseMatch;
}

export interface ResponseClass {
  condition: ResponseMatch;
  isFailure?: boolean;
}

export interface RouteSpec {
  name: string;
  condition: RequestMatch;
  responseClasses?: ResponseClass[];
  isRetryable?: boolean;
  /** Go duration, e.g. "300ms". */
  timeout?: string;
}

export interface RetryBudget {
  retryRatio: number;
  minRetriesPerSecond: number;
  /** Go duration, e.g. "10s". */
  ttl: string;
}

export interface WeightedDst {
  authority: string;
  weight: Quantity;
}

export interface ServiceProfileSpec {
  routes?: RouteSpec[];
  retryBudget?: RetryBudget;
  dstOverrides?: WeightedDst[];
  opaquePorts?: number[];
}

export interface ServiceProfileStatus {
  observedGeneration?: number;
  conditions?: Condition[];
}

export interface ServiceProfile {
  apiVersion?: "weft.io/v1alpha2";
  kind?: "ServiceProfile";
  metadata?: ObjectMeta;
  spec?: ServiceProfileSpec;
  status?: ServiceProfileStatus;
}
