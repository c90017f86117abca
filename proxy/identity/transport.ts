// Certify over gRPC to the identity service (WEFT_PROXY_IDENTITY_SVC_ADDR).
import * as grpc from "@grpc/grpc-js";
import { IdentityClient, type CertifyRequest, type CertifyResponse } from "../../api/gen/identity";
import type { CertifyTransport } from "./agent";

export interface GrpcTransport extends CertifyTransport {
  close(): void;
}

/** A Certify client for `addr` (host:port). Each call has a deadline of `timeoutMs`. */
export function grpcCertifyTransport(addr: string, timeoutMs = 10_000): GrpcTransport {
  const client = new IdentityClient(addr, grpc.credentials.createInsecure());
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
