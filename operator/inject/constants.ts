// Names shared by the injector, the validators and the Mesh reconciler (REFERENCE.md, DESIGN.md).

export const CONTROL_PLANE_NS = "weft-system";
export const INJECT_ANNOTATION = "weft.io/inject";
export const CONFIG_PREFIX = "config.weft.io/";
export const ADMISSION_OPT_OUT_LABEL = "config.weft.io/admission-webhooks";

export const INIT_CONTAINER = "weft-init";
export const PROXY_CONTAINER = "weft-proxy";

export const LABEL_CONTROL_PLANE_NS = "weft.io/control-plane-ns";
export const LABEL_CONTROL_PLANE_COMPONENT = "weft.io/control-plane-component";
export const LABEL_WORKLOAD_NS = "weft.io/workload-ns";
export const ANNOTATION_PROXY_VERSION = "weft.io/proxy-version";
export const ANNOTATION_TRUST_ROOT_SHA256 = "weft.io/trust-root-sha256";
export const ANNOTATION_OPAQUE_PORTS = "config.weft.io/opaque-ports";
export const ANNOTATION_IDENTITY_MODE = "weft.io/identity-mode";

export const PROXY_UID = 2102;
export const PORT_INBOUND = 4143;
export const PORT_OUTBOUND = 4140;
export const PORT_CONTROL = 4190;
export const PORT_ADMIN = 4191;

export const IDENTITY_AUDIENCE = "identity.weft.io";
export const IDENTITY_TOKEN_SECONDS = 86400;
export const IDENTITY_DIR = "/var/run/weft/identity/end-entity";
export const TOKEN_DIR = "/var/run/secrets/tokens";
export const TOKEN_FILE = "weft-identity-token";
export const VOLUME_IDENTITY = "weft-identity-end-entity";
export const VOLUME_TOKEN = "weft-identity-token";
export const VOLUME_XTABLES = "weft-init-xtables-lock";
/** Scratch space under a read-only root (the proxy unpacks its native addon there). */
export const VOLUME_PROXY_TMP = "weft-proxy-tmp";

/** Server-speaks-first protocols: no protocol detection (REFERENCE.md). */
export const DEFAULT_OPAQUE_PORTS = [25, 587, 3306, 4444, 5432, 6379, 9300, 11211];

/** Namespaces the injector never touches. */
export const ALWAYS_SKIPPED_NAMESPACES = ["kube-system", CONTROL_PLANE_NS];
