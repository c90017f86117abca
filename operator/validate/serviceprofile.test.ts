import { expect } from "chai";
import type { ServiceProfile } from "../../crds/types";
import { validateServiceProfile } from "./serviceprofile";

function sp(spec: unknown, name = "web.shop.svc.cluster.local"): ServiceProfile {
  return {
    apiVersion: "weft.io/v1alpha2",
    kind: "ServiceProfile",
    metadata: { name, namespace: "shop" },
    spec: spec as ServiceProfile["spec"],
  };
}

const valid = {
  routes: [
    {
      name: "GET /books/{id}",
      condition: { method: "GET", pathRegex: "/books/[^/]*" },
      responseClasses: [{ condition: { status: { min: 500, max: 599 } }, isFailure: true }],
      isRetryable: true,
      timeout: "300ms",
    },
    {
      name: "POST /books",
      condition: { all: [{ method: "POST" }, { not: { pathRegex: "/admin/.*" } }] },
    },
  ],
  retryBudget: { retryRatio: 0.2, minRetriesPerSecond: 10, ttl: "10s" },
  dstOverrides: [{ authority: "web-v2.shop.svc.cluster.local:80", weight: "500m" }],
  opaquePorts: [5432],
};

describe("validateServiceProfile", () => {
  it("accepts a complete, valid profile", () => {
    expect(validateServiceProfile(sp(valid))).to.deep.equal([]);
  });

  it("rejects a name that is not a DNS-1123 subdomain", () => {
    expect(validateServiceProfile(sp(valid, "Web_Shop"))[0]).to.match(
      /^metadata\.name: .*DNS-1123 subdomain.*web\.shop\.svc\.cluster\.local/,
    );
  });

  it("requires a route name and condition, and unique names", () => {
    const errs = validateServiceProfile(
      sp({
        routes: [
          { condition: { method: "GET" } },
          { name: "a" },
          { name: "a", condition: { method: "GET" } },
        ],
      }),
    );
    expect(errs).to.include(
      'spec.routes[0].name: required; give the route a name, e.g. "GET /books/{id}"',
    );
    expect(errs.some((e) => e.startsWith("spec.routes[1].condition: required"))).to.equal(true);
    expect(
      errs.some((e) => e.startsWith('spec.routes[2].name: "a" is used by another route')),
    ).to.equal(true);
  });

  it("rejects empty matches at any depth, naming the path", () => {
    const errs = validateServiceProfile(
      sp({
        routes: [
          { name: "r", condition: { any: [{ method: "GET" }, {}] } },
          { name: "s", condition: { all: [] } },
        ],
      }),
    );
    expect(errs).to.include(
      "spec.routes[0].condition.any[1]: must not be empty; set at least one of method, pathRegex, all, any, not",
    );
    expect(errs).to.include(
      "spec.routes[1].condition.all: must list at least one match (or be omitted)",
    );
  });

  it("rejects a status outside 100-599 and max below min", () => {
    const route = (status: unknown) => ({
      routes: [
        { name: "r", condition: { method: "GET" }, responseClasses: [{ condition: { status } }] },
      ],
    });
    expect(validateServiceProfile(sp(route({ min: 500, max: 600 })))).to.deep.equal([
      "spec.routes[0].responseClasses[0].condition.status.max: 600 is outside 100-599",
    ]);
    expect(validateServiceProfile(sp(route({ min: 500, max: 404 })))[0]).to.equal(
      "spec.routes[0].responseClasses[0].condition.status: max (404) must be greater than or equal to min (500)",
    );
    expect(
      validateServiceProfile(
        sp({
          routes: [
            { name: "r", condition: { method: "GET" }, responseClasses: [{ condition: {} }] },
          ],
        }),
      )[0],
    ).to.contain("responseClasses[0].condition: must not be empty");
  });

  it("rejects bad durations, a negative ratio and an incomplete budget", () => {
    const errs = validateServiceProfile(
      sp({
        routes: [{ name: "r", condition: { method: "GET" }, timeout: "soon" }],
        retryBudget: { retryRatio: -1, ttl: "10 seconds" },
      }),
    );
    expect(errs).to.include(
      'spec.routes[0].timeout: "soon" is not a duration; use e.g. 300ms, 2s or 1m',
    );
    expect(errs).to.include(
      "spec.retryBudget.retryRatio: -1 is negative; use a ratio >= 0 such as 0.2",
    );
    expect(errs).to.include(
      "spec.retryBudget.minRetriesPerSecond: required; an integer such as 10",
    );
    expect(errs).to.include('spec.retryBudget.ttl: "10 seconds" is not a duration; use e.g. 10s');
  });

  it("rejects an invalid regex, method, weight and port", () => {
    const errs = validateServiceProfile(
      sp({
        routes: [{ name: "r", condition: { method: "GE T", pathRegex: "/books/(" } }],
        dstOverrides: [{ authority: "", weight: "-1" }],
        opaquePorts: [70000],
      }),
    );
    expect(
      errs.some((e) =>
        e.startsWith(
          'spec.routes[0].condition.pathRegex: "/books/(" is not a valid regular expression',
        ),
      ),
    ).to.equal(true);
    expect(errs).to.include(
      'spec.routes[0].condition.method: "GE T" is not an HTTP method; use e.g. GET or POST',
    );
    expect(errs.some((e) => e.startsWith("spec.dstOverrides[0].authority: required"))).to.equal(
      true,
    );
    expect(errs).to.include(
      'spec.dstOverrides[0].weight: "-1" is not a non-negative quantity; use e.g. 500m or 1',
    );
    expect(errs).to.include("spec.opaquePorts[0]: 70000 is not a port 1-65535");
  });
});
