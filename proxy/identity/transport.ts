// Certify over gRPC to the identity service (WEFT_PROXY_IDENTITY_SVC_ADDR).
import * as grpc from "@grpc/grpc-js";
import { IdentityClient, type CertifyRequest, type CertifyResponse } from "../../api/gen/identity";
import type { CertifyTransport } from "./agent";

export interface GrpcTransport extends CertifyTransport {
  close(): void;
}

export interface TransportTls {
  /** The identity service's own identity (WEFT_PROXY_IDENTITY_SVC_NAME), checked in its certificate. */
  serverName: string;
  anchorsPem: string;
}

/**
 * A Certify client for `addr` (host:port): TLS verified against the anchors and `serverName`
 * when `tls` is given, else plaintext. Each call has a deadline of `timeoutMs`.
 */
export function grpcCertifyTransport(
  addr: string,
  tls?: TransportTls,
  timeoutMs = 10_000,
): GrpcTransport {
  const client = tls
    ? new IdentityClient(addr, grpc.credentials.createSsl(Buffer.from(tls.anchorsPem)), {
        "grpc.ssl_target_name_override": tls.serverName,
        "grpc.default_authority": tls.serverName,
      })
    : new IdentityClient(addr, grpc.credentials.createInsecure());
  return {
    certify: (req: CertifyRequest): Promise<CertifyResponse> =>
      new Promise((resolve, reject) => {
        client.certify(
          req,
          new grpc.Metadata(),
          { deadline: Date.now() + timeoutMs },
          (err, res) => (err ? reject(err) : resolve(res)),
        );
      }),
    close: (): void => client.close(),
  };
}
