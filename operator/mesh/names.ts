// Names of what the Mesh reconciler owns.

export const NS = "weft-system";
export const FIELD_MANAGER = "weft-operator";
export const TRUST_ROOTS_CM = "weft-identity-trust-roots";
export const TRUST_ROOTS_KEY = "ca-bundle.crt";
export const ISSUER_SECRET = "weft-identity-issuer";
export const LABEL_MESH = "weft.io/mesh";
export const LABEL_COMPONENT = "weft.io/control-plane-component";
export const LABEL_CP_NS = "weft.io/control-plane-ns";
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
export const MANAGED_BY = "weft-operator";
export const ANNOTATION_SPEC_HASH = "weft.io/spec-hash";
export const DEFAULT_CONTROLLER_IMAGE = "docker.io/weft/controller";
