// Errors of the identity service. Each carries a stable code and, where it
// answers a Certify call, the gRPC status the caller receives.
import { status } from "@grpc/grpc-js";

export type IdentityErrorCode =
  | "WEFT_ERR_IDENTITY_ISSUER_NOT_LOADED"
  | "WEFT_ERR_IDENTITY_EMPTY_FIELD"
  | "WEFT_ERR_IDENTITY_CSR_MALFORMED"
  | "WEFT_ERR_IDENTITY_CSR_REJECTED"
  | "WEFT_ERR_IDENTITY_TOKEN_NOT_AUTHENTICATED"
  | "WEFT_ERR_IDENTITY_TOKEN_MALFORMED"
  | "WEFT_ERR_IDENTITY_TOKEN_MISMATCH"
  | "WEFT_ERR_IDENTITY_TOKENREVIEW_FAILED"
  | "WEFT_ERR_IDENTITY_SIGN_FAILED";

/** Why a Certify call was refused; `reason` is the metric label. */
export class CertifyError extends Error {
  constructor(
    readonly code: IdentityErrorCode,
    readonly grpcStatus: status,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = "CertifyError";
  }
}

export type IssuerErrorCode =
  | "WEFT_ERR_ISSUER_MISSING"
  | "WEFT_ERR_ISSUER_PEM"
  | "WEFT_ERR_ISSUER_KEY"
  | "WEFT_ERR_ISSUER_NOT_CA"
  | "WEFT_ERR_ISSUER_EXPIRED"
  | "WEFT_ERR_ISSUER_UNTRUSTED"
  | "WEFT_ERR_ISSUER_ANCHORS";

/** The issuer Secret or the trust anchors cannot be used; the message says what to fix. */
export class IssuerError extends Error {
  constructor(
    readonly code: IssuerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "IssuerError";
  }
}

/** The identity service could not start (configuration or permissions). */
export class IdentityStartupError extends Error {
  readonly code = "WEFT_ERR_IDENTITY_STARTUP";
  constructor(message: string) {
    super(message);
    this.name = "IdentityStartupError";
  }
}
