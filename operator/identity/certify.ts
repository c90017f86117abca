// Certify: every check of REFERENCE.md, in its order, each refusal with its gRPC status.
// I/O (the TokenReview, the clock, the current issuer) comes in through CertifyDeps.
import { status } from "@grpc/grpc-js";
import type { CertifyRequest, CertifyResponse } from "../../api/gen/identity";
import { signLeaf, type Issuer } from "./ca";
import { csrProblem, CsrParseError, parseCsr, type ParsedCsr } from "./csr";
import { CertifyError } from "./errors";

export const TOKEN_AUDIENCE = "identity.weft.io";

/** The parts of a TokenReview's status that decide (plain data, from the API server or a fake). */
export interface TokenReviewResult {
  authenticated: boolean;
  error?: string;
  username?: string;
  audiences?: string[];
}

/** Creates a TokenReview for `token`; throws when the API server cannot be asked. */
export type TokenReviewer = (token: string) => Promise<TokenReviewResult>;

export interface CertifyDeps {
  issuer: () => Issuer | undefined;
  review: TokenReviewer;
  trustDomain: string;
  /** Namespace of the control plane; part of every identity name. */
  controlPlaneNamespace: string;
  leafLifetimeMs: number;
  clockSkewMs: number;
  now: () => Date;
}

export interface ServiceAccountRef {
  namespace: string;
  name: string;
}

export interface CertifyOutcome {
  response: CertifyResponse;
  serviceAccount: ServiceAccountRef;
  identity: string;
  validUntil: Date;
}

/** `<sa>.<ns>.serviceaccount.identity.<control-plane-ns>.<trust-domain>` */
export function identityName(
  sa: ServiceAccountRef,
  controlPlaneNamespace: string,
  trustDomain: string,
): string {
  return `${sa.name}.${sa.namespace}.serviceaccount.identity.${controlPlaneNamespace}.${trustDomain}`;
}

/** `system:serviceaccount:<ns>:<sa>` → the service account, else undefined. */
export function serviceAccountFromUsername(username: string): ServiceAccountRef | undefined {
  const parts = username.split(":");
  if (parts.length !== 4 || parts[0] !== "system" || parts[1] !== "serviceaccount")
    return undefined;
  if (parts[2] === "" || parts[3] === "") return undefined;
  return { namespace: parts[2], name: parts[3] };
}

function reject(
  code: CertifyError["code"],
  grpc: status,
  reason: string,
  message: string,
): CertifyError {
  return new CertifyError(code, grpc, reason, message);
}

/** Step 2: empty fields. */
export function checkRequestFields(req: CertifyRequest): CertifyError | undefined {
  const empty = [
    req.identity === "" ? "identity" : "",
    req.token.length === 0 ? "token" : "",
    req.certificateSigningRequest.length === 0 ? "certificate_signing_request" : "",
  ].filter((f) => f !== "");
  if (empty.length === 0) return undefined;
  return reject(
    "WEFT_ERR_IDENTITY_EMPTY_FIELD",
    status.INVALID_ARGUMENT,
    "empty_field",
    `empty: ${empty.join(", ")}`,
  );
}

/** Step 4 (pure): what the TokenReview says about the requested identity. */
export function tokenDecision(
  review: TokenReviewResult,
  requested: string,
  deps: Pick<CertifyDeps, "controlPlaneNamespace" | "trustDomain">,
): ServiceAccountRef | CertifyError {
  if (!review.authenticated) {
    const why = review.error ? `: ${review.error}` : "";
    return reject(
      "WEFT_ERR_IDENTITY_TOKEN_NOT_AUTHENTICATED",
      status.FAILED_PRECONDITION,
      "token_not_authenticated",
      `the token is not authenticated${why}`,
    );
  }
  const sa = serviceAccountFromUsername(review.username ?? "");
  if (sa === undefined) {
    return reject(
      "WEFT_ERR_IDENTITY_TOKEN_MALFORMED",
      status.INVALID_ARGUMENT,
      "token_malformed",
      `the token's user ${JSON.stringify(review.username ?? "")} is not system:serviceaccount:<ns>:<sa>`,
    );
  }
  if (review.audiences !== undefined && !review.audiences.includes(TOKEN_AUDIENCE)) {
    return reject(
      "WEFT_ERR_IDENTITY_TOKEN_MALFORMED",
      status.INVALID_ARGUMENT,
      "token_audience",
      `the token is not for audience ${TOKEN_AUDIENCE}`,
    );
  }
  const actual = identityName(sa, deps.controlPlaneNamespace, deps.trustDomain);
  if (actual !== requested) {
    return reject(
      "WEFT_ERR_IDENTITY_TOKEN_MISMATCH",
      status.FAILED_PRECONDITION,
      "identity_mismatch",
      `the token belongs to ${actual}, not ${requested}`,
    );
  }
  return sa;
}

async function parseChecked(req: CertifyRequest): Promise<ParsedCsr> {
  let csr: ParsedCsr;
  try {
    csr = await parseCsr(req.certificateSigningRequest);
  } catch (err) {
    if (err instanceof CsrParseError) {
      throw reject(
        "WEFT_ERR_IDENTITY_CSR_MALFORMED",
        status.INVALID_ARGUMENT,
        "csr_malformed",
        err.message,
      );
    }
    throw err;
  }
  const problem = csrProblem(csr, req.identity);
  if (problem !== undefined) {
    throw reject(
      "WEFT_ERR_IDENTITY_CSR_REJECTED",
      status.FAILED_PRECONDITION,
      "csr_rejected",
      problem,
    );
  }
  return csr;
}

async function reviewToken(req: CertifyRequest, deps: CertifyDeps): Promise<ServiceAccountRef> {
  let review: TokenReviewResult;
  try {
    review = await deps.review(req.token.toString("utf8"));
  } catch (err) {
    throw reject(
      "WEFT_ERR_IDENTITY_TOKENREVIEW_FAILED",
      status.UNAVAILABLE,
      "tokenreview_failed",
      `the TokenReview could not be made: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const decision = tokenDecision(review, req.identity, deps);
  if (decision instanceof CertifyError) throw decision;
  return decision;
}

/** Runs every check in order and signs; throws CertifyError with the status to answer. */
export async function certify(req: CertifyRequest, deps: CertifyDeps): Promise<CertifyOutcome> {
  const issuer = deps.issuer();
  if (issuer === undefined) {
    throw reject(
      "WEFT_ERR_IDENTITY_ISSUER_NOT_LOADED",
      status.UNAVAILABLE,
      "issuer_not_loaded",
      "no issuer loaded",
    );
  }
  const empty = checkRequestFields(req);
  if (empty) throw empty;
  const csr = await parseChecked(req);
  const serviceAccount = await reviewToken(req, deps);
  let leaf;
  try {
    leaf = await signLeaf(issuer, csr.publicKey, {
      identity: req.identity,
      lifetimeMs: deps.leafLifetimeMs,
      skewMs: deps.clockSkewMs,
      now: deps.now(),
    });
  } catch (err) {
    throw reject(
      "WEFT_ERR_IDENTITY_SIGN_FAILED",
      status.INTERNAL,
      "sign_failed",
      `signing failed: ${String(err)}`,
    );
  }
  const ms = leaf.validUntil.getTime();
  return {
    response: {
      leafCertificate: leaf.leafDer,
      intermediateCertificates: leaf.intermediatesDer,
      validUntil: { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 },
    },
    serviceAccount,
    identity: req.identity,
    validUntil: leaf.validUntil,
  };
}
