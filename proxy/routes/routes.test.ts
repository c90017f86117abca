import { expect } from "chai";
import { Registry } from "prom-client";
import { destinationProfile } from "../../operator/destination/profile";
import { FailFastError, QueueFullError } from "../balance/errors";
import { RetryBudget } from "./budget";
import { errorResponse, routeRequest, RouteTimeoutError, type AttemptResponse } from "./execute";
import { RouteMetricFamilies } from "./metrics";
import { compileProfile, matchRoute, type CompiledRoute } from "./profile";

function profile() {
  return compileProfile(
    destinationProfile({
      fqn: "web.shop.svc.cluster.local",
      port: 80,
      service: undefined,
      endpoint: undefined,
      profile: {
        spec: {
          routes: [
            {
              name: "get-book",
              condition: { method: "GET", pathRegex: "/books/\\d+" },
              isRetryable: true,
              timeout: "200ms",
            },
            { name: "not-admin", condition: { not: { pathRegex: "/admin.*" }, method: "POST" } },
            { name: "any", condition: { any: [{ pathRegex: "/a" }, { pathRegex: "/b" }] } },
            {
              name: "classes",
              condition: { pathRegex: "/classes" },
              responseClasses: [
                { condition: { status: { min: 500, max: 599 } }, isFailure: false },
                { condition: { not: { status: { min: 200, max: 299 } } }, isFailure: true },
              ],
            },
            { name: "bad-regex", condition: { pathRegex: "(" } },
          ],
          retryBudget: { retryRatio: 0.2, minRetriesPerSecond: 10, ttl: "10s" },
        },
      },
    }),
  );
}

describe("route matching and classification", () => {
  const p = profile();
  const name = (method: string, path: string): string | undefined =>
    matchRoute(p.routes, { method, path })?.name;

  it("matches the first route on method and anchored path regex", () => {
    expect(name("GET", "/books/12")).to.equal("get-book");
    expect(name("GET", "/books/12/x")).to.equal(undefined);
    expect(name("PUT", "/books/12")).to.equal(undefined);
    expect(name("POST", "/books/12")).to.equal("not-admin");
    expect(name("POST", "/admin/x")).to.equal(undefined);
    expect(name("DELETE", "/b")).to.equal("any");
    expect(name("GET", "(")).to.equal(undefined);
    expect(p.routes[0].timeoutMs).to.equal(200);
    expect(p.routes[0].isRetryable).to.equal(true);
  });

  it("classifies by the first matching response class, else 5xx/grpc-status", () => {
    const classes = p.routes.find((r) => r.name === "classes")!;
    expect(classes.isFailure({ status: 503 })).to.equal(false);
    expect(classes.isFailure({ status: 404 })).to.equal(true);
    expect(classes.isFailure({ status: 200 })).to.equal(false);
    const plain = p.routes[0];
    expect(plain.isFailure({ status: 500 })).to.equal(true);
    expect(plain.isFailure({ status: 200, grpcStatus: 14 })).to.equal(true);
    expect(plain.isFailure({ status: 200, grpcStatus: 0 })).to.equal(false);
  });
});

describe("retry budget", () => {
  it("allows min-per-second × ttl plus ratio × requests, over a sliding ttl", () => {
    const b = new RetryBudget({ ratio: 0.2, minPerSecond: 10, ttlMs: 10_000 }, 0);
    expect(b.balance(0)).to.equal(100);
    for (let i = 0; i < 1000; i++) b.deposit(0);
    expect(b.balance(0)).to.be.closeTo(300, 1e-9);
    let taken = 0;
    while (b.withdraw(0) && taken < 1000) taken++;
    expect(taken).to.equal(300);
    expect(b.withdraw(5000)).to.equal(false);
    expect(b.balance(10_500)).to.be.closeTo(100, 1e-9);
  });

  it("with no reserve, only the ratio of recent requests", () => {
    const b = new RetryBudget({ ratio: 0.5, minPerSecond: 0, ttlMs: 1000 }, 0);
    expect(b.withdraw(0)).to.equal(false);
    b.deposit(0);
    b.deposit(0);
    expect(b.withdraw(0)).to.equal(true);
    expect(b.withdraw(0)).to.equal(false);
  });
});

interface FakeResponse extends AttemptResponse {
  discarded: boolean;
}

function fake(status: number): FakeResponse {
  const r: FakeResponse = { status, discarded: false, discard: () => (r.discarded = true) };
  return r;
}

describe("route execution", () => {
  const route = (over: Partial<CompiledRoute>): CompiledRoute => ({
    name: "r",
    labels: { route: "r" },
    matches: () => true,
    isFailure: (res) => res.status >= 500,
    isRetryable: false,
    timeoutMs: undefined,
    ...over,
  });
  let registry: Registry;
  let metrics: RouteMetricFamilies;
  beforeEach(() => {
    registry = new Registry();
    metrics = new RouteMetricFamilies(registry, ["dst_service"]);
  });
  async function value(name: string, labels: Record<string, string> = {}): Promise<number> {
    const m = await registry.getSingleMetric(name)!.get();
    return m.values
      .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
      .reduce((a, v) => a + v.value, 0);
  }

  it("retries a retryable route until success, counting attempts", async () => {
    const statuses = [503, 502, 200];
    const sent: FakeResponse[] = [];
    const out = await routeRequest({
      route: route({ isRetryable: true }),
      budget: new RetryBudget({ ratio: 0.2, minPerSecond: 10, ttlMs: 10_000 }, 0),
      metrics: metrics.scope(
        { direction: "outbound", dst: "web:80", rt_route: "r" },
        { service: "web" },
      ),
      replayable: () => true,
      send: async () => {
        const r = fake(statuses.shift()!);
        sent.push(r);
        return r;
      },
    });
    expect(out.kind === "response" && out.response.status).to.equal(200);
    expect(sent.map((s) => s.discarded)).to.deep.equal([true, true, false]);
    expect(await value("route_request_total", { dst_service: "web" })).to.equal(1);
    expect(await value("route_actual_request_total")).to.equal(3);
    expect(await value("route_response_total", { classification: "success" })).to.equal(1);
    expect(await value("route_actual_response_total", { classification: "failure" })).to.equal(2);
  });

  it("does not retry without budget, non-retryable routes, or unreplayable bodies", async () => {
    const run = async (over: Partial<CompiledRoute>, replayable: boolean, budget: RetryBudget) => {
      let n = 0;
      await routeRequest({
        route: route(over),
        budget,
        metrics: metrics.scope({ direction: "outbound", dst: "web:80", rt_route: "r" }),
        replayable: () => replayable,
        send: async () => (n++, fake(500)),
      });
      return n;
    };
    const empty = (): RetryBudget => new RetryBudget({ ratio: 0, minPerSecond: 0, ttlMs: 1000 }, 0);
    const full = (): RetryBudget =>
      new RetryBudget({ ratio: 0.2, minPerSecond: 10, ttlMs: 1000 }, 0);
    expect(await run({ isRetryable: true }, true, empty())).to.equal(1);
    expect(await value("route_retryable_total", { skipped: "no_budget" })).to.equal(1);
    expect(await run({ isRetryable: false }, true, full())).to.equal(1);
    expect(await run({ isRetryable: true }, false, full())).to.equal(1);
    expect(await run({ isRetryable: true }, true, full())).to.equal(4);
  });

  it("times out with 504 at the route timeout, aborting the attempt, counted as a failure", async () => {
    let aborted = false;
    const t0 = performance.now();
    const out = await routeRequest({
      route: route({ timeoutMs: 100 }),
      budget: new RetryBudget({ ratio: 0.2, minPerSecond: 10, ttlMs: 1000 }, 0),
      metrics: metrics.scope({ direction: "outbound", dst: "web:80", rt_route: "r" }),
      replayable: () => true,
      send: (signal) =>
        new Promise<FakeResponse>((resolve) => {
          signal.addEventListener("abort", () => ((aborted = true), resolve(fake(200))));
        }),
    });
    const took = performance.now() - t0;
    expect(out.kind).to.equal("error");
    expect(out.kind === "error" && out.error.status).to.equal(504);
    expect(aborted).to.equal(true);
    expect(took).to.be.within(90, 400);
    expect(
      await value("route_response_total", {
        classification: "failure",
        status_code: "504",
        error: "timeout",
      }),
    ).to.equal(1);
  });

  it("classifies a streamed response at its end (grpc-status in trailers), latency at its head", async () => {
    let end!: (f: { status: number; grpcStatus?: number }) => void;
    const final = new Promise<{ status: number; grpcStatus?: number }>((r) => (end = r));
    const out = await routeRequest({
      route: route({ isFailure: (res) => res.status >= 500 || (res.grpcStatus ?? 0) !== 0 }),
      budget: new RetryBudget({ ratio: 0.2, minPerSecond: 10, ttlMs: 1000 }, 0),
      metrics: metrics.scope({ direction: "outbound", dst: "web:80", rt_route: "r" }),
      replayable: () => true,
      send: async () => ({ status: 200, discard: () => undefined, final }),
    });
    expect(out.kind).to.equal("response");
    expect(await value("route_response_total")).to.equal(0);
    end({ status: 200, grpcStatus: 13 });
    await final;
    await new Promise((r) => setImmediate(r));
    expect(await value("route_response_total", { classification: "failure" })).to.equal(1);
    expect(await value("route_actual_response_total", { classification: "failure" })).to.equal(1);
    expect(await value("route_response_latency_ms")).to.be.greaterThan(0);
  });

  it("tells gRPC clients DEADLINE_EXCEEDED for a timeout and UNAVAILABLE otherwise", () => {
    expect(errorResponse(new RouteTimeoutError("r", 10)).grpcStatus).to.equal(4);
    expect(errorResponse(new FailFastError("web:80", 3000)).grpcStatus).to.equal(14);
    expect(errorResponse(new Error("ECONNREFUSED")).grpcStatus).to.equal(14);
    expect(errorResponse(new QueueFullError("web:80", 10)).error).to.equal("loadshed");
  });

  it("turns failfast into 503", async () => {
    const out = await routeRequest({
      route: route({}),
      budget: new RetryBudget({ ratio: 0.2, minPerSecond: 10, ttlMs: 1000 }, 0),
      metrics: metrics.scope({ direction: "outbound", dst: "web:80", rt_route: "r" }),
      replayable: () => true,
      send: () => Promise.reject(new FailFastError("web:80", 3000)),
    });
    expect(out.kind === "error" && out.error).to.include({ status: 503, error: "failfast" });
  });
});
