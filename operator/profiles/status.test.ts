import { expect } from "chai";
import type { ServiceProfile } from "../../crds/types";
import { decideStatus, profileProblems, statusChanged } from "./status";

function sp(
  spec: ServiceProfile["spec"],
  name = "web.shop.svc.cluster.local",
  generation = 3,
): ServiceProfile {
  return { metadata: { name, namespace: "shop", generation }, spec };
}

describe("ServiceProfile status decisions", () => {
  const now = new Date("2026-01-01T00:00:00Z");

  it("accepts a valid profile with observedGeneration", () => {
    const status = decideStatus(
      sp({ routes: [{ name: "r", condition: { pathRegex: "/books/\\d+" }, timeout: "300ms" }] }),
      now,
    );
    expect(status.observedGeneration).to.equal(3);
    expect(status.conditions).to.deep.equal([
      {
        type: "Accepted",
        status: "True",
        reason: "Accepted",
        message: "the profile is valid and served to proxies",
        observedGeneration: 3,
        lastTransitionTime: now.toISOString(),
      },
    ]);
  });

  it("rejects a route regex that does not compile, naming the field", () => {
    const status = decideStatus(
      sp({
        routes: [{ name: "r", condition: { all: [{ method: "GET" }, { pathRegex: "/books/(" }] } }],
      }),
      now,
    );
    const c = status.conditions![0];
    expect(c.status).to.equal("False");
    expect(c.reason).to.equal("InvalidRegex");
    expect(c.message).to.match(
      /^spec\.routes\[0\]\.condition\.all\[1\]\.pathRegex: "\/books\/\(" does not compile/,
    );
  });

  it("finds bad durations, weights, status ranges and names", () => {
    const problems = profileProblems(
      sp(
        {
          routes: [
            {
              name: "r",
              condition: { method: "GET" },
              timeout: "soon",
              responseClasses: [{ condition: { status: { min: 500, max: 400 } } }],
            },
          ],
          retryBudget: { retryRatio: 0.2, minRetriesPerSecond: 10, ttl: "10" },
          dstOverrides: [{ authority: "a:80", weight: "lots" }],
        },
        "web",
      ),
    );
    expect(problems.map((p) => p.reason)).to.deep.equal([
      "InvalidName",
      "InvalidStatusRange",
      "InvalidDuration",
      "InvalidDuration",
      "InvalidWeight",
    ]);
  });

  it("keeps lastTransitionTime while the verdict holds and reports whether a write is needed", () => {
    const first = decideStatus(sp({}), now);
    const later = new Date("2026-01-02T00:00:00Z");
    const again = decideStatus({ ...sp({}, undefined, 4), status: first }, later);
    expect(again.conditions![0].lastTransitionTime).to.equal(now.toISOString());
    expect(again.observedGeneration).to.equal(4);
    expect(statusChanged(first, again)).to.equal(true);
    expect(
      statusChanged(again, decideStatus({ ...sp({}, undefined, 4), status: again }, later)),
    ).to.equal(false);
    const broken = decideStatus(
      {
        ...sp({ retryBudget: { retryRatio: 1, minRetriesPerSecond: 1, ttl: "x" } }, undefined, 5),
        status: again,
      },
      later,
    );
    expect(broken.conditions![0].lastTransitionTime).to.equal(later.toISOString());
  });
});
