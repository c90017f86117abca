// The gRPC face of Certify: answers with the decided status, counts, and records Events.
import * as grpc from "@grpc/grpc-js";
import {
  IdentityService,
  type CertifyRequest,
  type CertifyResponse,
  type IdentityServer,
} from "../../api/gen/identity";
import { certify, type CertifyDeps, type CertifyOutcome } from "./certify";
import { CertifyError } from "./errors";
import { serviceAccountTarget, type EventSink } from "./kube";
import type { IdentityMetrics } from "./metrics";

export interface IdentityServiceOptions extends CertifyDeps {
  metrics: IdentityMetrics;
  events?: EventSink;
  log?: (line: string) => void;
}

function issuedEvent(opts: IdentityServiceOptions, outcome: CertifyOutcome): void {
  opts.events?.(
    serviceAccountTarget(outcome.serviceAccount),
    "Normal",
    "IssuedLeafCertificate",
    `issued certificate for ${outcome.identity} until ${outcome.validUntil.toISOString()}`,
  );
}

function toServiceError(err: unknown): Partial<grpc.ServiceError> {
  if (err instanceof CertifyError)
    return { code: err.grpcStatus, details: `${err.code}: ${err.message}` };
  return { code: grpc.status.INTERNAL, details: `WEFT_ERR_IDENTITY_INTERNAL: ${String(err)}` };
}

/** Handles one Certify call. */
export async function handleCertify(
  opts: IdentityServiceOptions,
  req: CertifyRequest,
): Promise<CertifyResponse> {
  try {
    const outcome = await certify(req, opts);
    opts.metrics.issued.inc();
    issuedEvent(opts, outcome);
    opts.log?.(`issued ${outcome.identity} until ${outcome.validUntil.toISOString()}`);
    return outcome.response;
  } catch (err) {
    const reason = err instanceof CertifyError ? err.reason : "internal";
    opts.metrics.rejections.inc({ reason });
    opts.log?.(
      `refused ${JSON.stringify(req.identity)}: ${err instanceof Error ? err.message : String(err)}`,
    );
    throw err;
  }
}

export function identityServiceImpl(opts: IdentityServiceOptions): IdentityServer {
  return {
    certify: (call, callback): void => {
      handleCertify(opts, call.request).then(
        (res) => callback(null, res),
        (err: unknown) => callback(toServiceError(err)),
      );
    },
  };
}

export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

/** Serves Identity on `addr` (host:port; port 0 picks one); plaintext unless `credentials` say TLS. */
export function startIdentityServer(
  opts: IdentityServiceOptions,
  addr: string,
  credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure(),
): Promise<RunningServer> {
  const server = new grpc.Server();
  server.addService(IdentityService, identityServiceImpl(opts));
  return new Promise((resolve, reject) => {
    server.bindAsync(addr, credentials, (err, port) => {
      if (err) return reject(err);
      resolve({
        port,
        close: () => new Promise<void>((done) => server.tryShutdown(() => done())),
      });
    });
  });
}
