import { expect } from "chai";
import { parseDurationMs, parseQuantity } from "../profiles/spec";
import { serviceObject } from "./fixtures";
import { serviceFromObject } from "./model";
import {
  chooseProfile,
  destinationProfile,
  dstOverrides,
  requestMatch,
  retryBudget,
} from "./profile";

describe("destination profile translation", () => {
  it("parses Go durations and quantities", () => {
    expect(parseDurationMs("200ms")).to.equal(200);
    expect(parseDurationMs("1m30s")).to.equal(90000);
    expect(parseDurationMs("1.5s")).to.equal(1500);
    expect(parseDurationMs("10")).to.equal(undefined);
    expect(parseQuantity("500m")).to.equal(0.5);
    expect(parseQuantity("1")).to.equal(1);
    expect(parseQuantity("x")).to.equal(undefined);
  });

  it("sends the default budget (0.2, 10, 10 s) without a profile", () => {
    const p = destinationProfile({
      fqn: "web.shop.svc.cluster.local",
      port: 80,
      service: undefined,
      profile: undefined,
      endpoint: undefined,
    });
    expect(p.routes).to.deep.equal([]);
    expect(p.retryBudget).to.deep.equal({
      retryRatio: 0.2,
      minRetriesPerSecond: 10,
      ttl: { seconds: 10n, nanos: 0 },
    });
    expect(retryBudget({ retryRatio: 0.5, minRetriesPerSecond: 3, ttl: "1500ms" })).to.deep.equal({
      retryRatio: 0.5,
      minRetriesPerSecond: 3,
      ttl: { seconds: 1n, nanos: 500000000 },
    });
  });

  it("translates routes with conditions ANDed, response classes, retryability and timeouts", () => {
    const svc = serviceFromObject(serviceObject("shop", "web", [{ name: "http", port: 80 }]));
    const p = destinationProfile({
      fqn: "web.shop.svc.cluster.local",
      port: 80,
      service: svc,
      endpoint: undefined,
      profile: {
        metadata: { name: "web.shop.svc.cluster.local", namespace: "shop" },
        spec: {
          routes: [
            {
              name: "GET /books/{id}",
              condition: { method: "GET", pathRegex: "/books/\\d+" },
              responseClasses: [{ condition: { status: { min: 500, max: 504 } }, isFailure: true }],
              isRetryable: true,
              timeout: "200ms",
            },
          ],
        },
      },
    });
    expect(p.fullyQualifiedName).to.equal("web.shop.svc.cluster.local");
    const r = p.routes[0];
    expect(r.metricsLabels).to.deep.equal({ route: "GET /books/{id}" });
    expect(r.isRetryable).to.equal(true);
    expect(r.timeout).to.deep.equal({ seconds: 0n, nanos: 200000000 });
    expect(r.condition?.match?.$case).to.equal("all");
    expect(r.responseClasses[0]).to.deep.equal({
      condition: { match: { $case: "status", status: { min: 500, max: 504 } } },
      isFailure: true,
    });
    expect(requestMatch({ method: "patch" }).match).to.deep.equal({
      $case: "method",
      method: { type: { $case: "registered", registered: 4 } },
    });
  });

  it("turns dstOverride quantities into 10000-based weights", () => {
    expect(
      dstOverrides([
        { authority: "web-v1.shop.svc.cluster.local:80", weight: "500m" },
        { authority: "web-v2.shop.svc.cluster.local:80", weight: "1" },
        { authority: "bad", weight: "x" },
      ]).map((d) => [d.authority, d.weight]),
    ).to.deep.equal([
      ["web-v1.shop.svc.cluster.local:80", 5000],
      ["web-v2.shop.svc.cluster.local:80", 10000],
    ]);
  });

  it("marks opaque ports from the annotation or the defaults", () => {
    const plain = serviceFromObject(serviceObject("shop", "db", [{ name: "pg", port: 5432 }]));
    const ann = serviceFromObject(
      serviceObject("shop", "x", [{ port: 9000 }], {
        annotations: { "config.weft.io/opaque-ports": "9000" },
      }),
    );
    const base = { fqn: "", profile: undefined, endpoint: undefined };
    expect(destinationProfile({ ...base, port: 5432, service: plain }).opaqueProtocol).to.equal(
      true,
    );
    expect(destinationProfile({ ...base, port: 9000, service: ann }).opaqueProtocol).to.equal(true);
    expect(destinationProfile({ ...base, port: 80, service: ann }).opaqueProtocol).to.equal(false);
  });

  it("prefers the client namespace's profile", () => {
    const profiles: Record<string, { metadata: { namespace: string } }> = {
      client: { metadata: { namespace: "client" } },
      shop: { metadata: { namespace: "shop" } },
    };
    expect(chooseProfile((ns) => profiles[ns], "client", "shop")?.metadata?.namespace).to.equal(
      "client",
    );
    expect(chooseProfile((ns) => profiles[ns], "other", "shop")?.metadata?.namespace).to.equal(
      "shop",
    );
    expect(chooseProfile((ns) => profiles[ns], "", "shop")?.metadata?.namespace).to.equal("shop");
  });
});
