import { expect } from "chai";
import { DestinationService } from "./gen/destination";
import { IdentityService } from "./gen/identity";
import { TapService } from "./gen/tap";
import { loadApiModel } from "./testing/proto-model";

// Field numbers of linkerd2-proxy-api (REFERENCE.md). Wire compatibility with Linkerd's
// proxies and control plane rests on these; a typo in a .proto fails here.
const D = "io.linkerd.proxy.destination";
const PINS: Record<string, Record<string, number>> = {
  [`${D}.GetDestination`]: { scheme: 1, path: 2, context_token: 3 },
  [`${D}.Update`]: { add: 1, remove: 2, no_endpoints: 3 },
  [`${D}.AddrSet`]: { addrs: 1 },
  [`${D}.WeightedAddrSet`]: { addrs: 1, metric_labels: 2 },
  [`${D}.NoEndpoints`]: { exists: 1 },
  [`${D}.WeightedAddr`]: {
    addr: 1,
    weight: 3,
    metric_labels: 4,
    tls_identity: 5,
    protocol_hint: 6,
    authority_override: 7,
    http2: 8,
    resource_ref: 9,
  },
  [`${D}.TlsIdentity`]: { dns_like_identity: 1, uri_like_identity: 3, server_name: 4 },
  [`${D}.TlsIdentity.DnsLikeIdentity`]: { name: 1 },
  [`${D}.TlsIdentity.UriLikeIdentity`]: { uri: 1 },
  [`${D}.ProtocolHint`]: { h2: 1, opaque: 3, opaque_transport: 2 },
  [`${D}.ProtocolHint.OpaqueTransport`]: { inbound_port: 1 },
  [`${D}.AuthorityOverride`]: { authority_override: 1 },
  [`${D}.Http2ClientParams`]: { flow_control: 1, keep_alive: 2, internals: 3 },
  [`${D}.DestinationProfile`]: {
    routes: 1,
    retry_budget: 2,
    dst_overrides: 3,
    opaque_protocol: 4,
    fully_qualified_name: 5,
    endpoint: 6,
    parent_ref: 7,
    profile_ref: 8,
  },
  [`${D}.Route`]: {
    condition: 1,
    response_classes: 2,
    metrics_labels: 3,
    is_retryable: 4,
    timeout: 5,
  },
  [`${D}.RetryBudget`]: { retry_ratio: 1, min_retries_per_second: 2, ttl: 3 },
  [`${D}.ResponseClass`]: { condition: 1, is_failure: 2 },
  [`${D}.RequestMatch`]: { all: 1, any: 2, not: 3, path: 4, method: 5 },
  [`${D}.RequestMatch.Seq`]: { matches: 1 },
  [`${D}.PathMatch`]: { regex: 1 },
  [`${D}.ResponseMatch`]: { all: 1, any: 2, not: 3, status: 4 },
  [`${D}.ResponseMatch.Seq`]: { matches: 1 },
  [`${D}.HttpStatusRange`]: { min: 1, max: 2 },
  [`${D}.WeightedDst`]: { authority: 1, weight: 2, backend_ref: 3 },
  "io.linkerd.proxy.net.TcpAddress": { ip: 1, port: 2 },
  "io.linkerd.proxy.net.IPAddress": { ipv4: 1, ipv6: 2 },
  "io.linkerd.proxy.net.IPv6": { first: 1, last: 2 },
  "io.linkerd.proxy.meta.Metadata": { default: 1, resource: 2 },
  "io.linkerd.proxy.meta.Resource": {
    group: 1,
    kind: 2,
    name: 3,
    namespace: 4,
    section: 5,
    port: 6,
  },
  "io.linkerd.proxy.http_types.HttpMethod": { registered: 1, unregistered: 2 },
  "io.linkerd.proxy.identity.CertifyRequest": {
    identity: 1,
    token: 2,
    certificate_signing_request: 3,
  },
  "io.linkerd.proxy.identity.CertifyResponse": {
    leaf_certificate: 1,
    intermediate_certificates: 2,
    valid_until: 3,
  },
  "io.linkerd.proxy.tap.ObserveRequest": { limit: 1, match: 2, extract: 3 },
  "io.linkerd.proxy.tap.TapEvent": {
    source: 1,
    destination: 2,
    http: 3,
    destination_meta: 4,
    source_meta: 5,
    proxy_direction: 6,
    route_meta: 7,
  },
  "transport.l5d.io.Header": { port: 1, name: 2, session_protocol: 3 },
};

// Types of the fields whose wire type would change with the Go/Rust side if mistyped.
const TYPES: Record<string, Record<string, string>> = {
  "io.linkerd.proxy.net.IPAddress": { ipv4: "fixed32" },
  "io.linkerd.proxy.net.IPv6": { first: "fixed64", last: "fixed64" },
  [`${D}.WeightedAddr`]: { weight: "uint32" },
  [`${D}.RetryBudget`]: {
    retry_ratio: "float",
    min_retries_per_second: "uint32",
    ttl: "google.protobuf.Duration",
  },
  [`${D}.Route`]: { timeout: "google.protobuf.Duration" },
  "io.linkerd.proxy.identity.CertifyRequest": {
    token: "bytes",
    certificate_signing_request: "bytes",
  },
  "io.linkerd.proxy.identity.CertifyResponse": {
    leaf_certificate: "bytes",
    valid_until: "google.protobuf.Timestamp",
  },
};

const model = loadApiModel();

describe("wire pins (linkerd2-proxy-api field numbers)", () => {
  for (const [name, pins] of Object.entries(PINS)) {
    it(`${name} has exactly the pinned fields and numbers`, () => {
      const message = model.messages.get(name);
      expect(message, name).to.not.equal(undefined);
      const actual = Object.fromEntries(message!.fields.map((f) => [f.name, f.number]));
      expect(actual).to.deep.equal(pins);
    });
  }

  for (const [name, types] of Object.entries(TYPES)) {
    it(`${name} keeps its wire types`, () => {
      const fields = model.messages.get(name)!.fields;
      const actual = Object.fromEntries(
        Object.keys(types).map((f) => [f, fields.find((x) => x.name === f)?.type]),
      );
      expect(actual).to.deep.equal(types);
    });
  }

  it("the services keep their package-qualified paths", () => {
    const paths = [
      DestinationService.get.path,
      DestinationService.getProfile.path,
      IdentityService.certify.path,
      TapService.observe.path,
    ];
    expect(paths).to.deep.equal([
      "/io.linkerd.proxy.destination.Destination/Get",
      "/io.linkerd.proxy.destination.Destination/GetProfile",
      "/io.linkerd.proxy.identity.Identity/Certify",
      "/io.linkerd.proxy.tap.Tap/Observe",
    ]);
  });
});
