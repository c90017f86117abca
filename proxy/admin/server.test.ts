import { expect } from "chai";
import { adminRoute, isLoopback, type AdminState } from "./server";

const state: AdminState = { ready: true, waiting: [], draining: false, shutdownEnabled: true };
const route = (method: string, path: string, local = true, s: Partial<AdminState> = {}) =>
  adminRoute({ method, path, local }, { ...state, ...s });

describe("admin routes", () => {
  it("answers liveness always and readiness by the gates", () => {
    expect(route("GET", "/live")).to.deep.equal({ kind: "text", status: 200, body: "live\n" });
    expect(route("GET", "/ready")).to.deep.include({ status: 200 });
    expect(route("GET", "/ready", true, { ready: false, waiting: ["identity"] })).to.deep.equal({
      kind: "text",
      status: 503,
      body: "not ready: waiting for identity\n",
    });
    expect(route("GET", "/ready", true, { draining: true })).to.deep.include({ status: 503 });
  });

  it("serves metrics to anyone, the log level only to localhost", () => {
    expect(route("GET", "/metrics", false)).to.deep.equal({ kind: "metrics" });
    expect(route("GET", "/proxy-log-level")).to.deep.equal({ kind: "get-log-level" });
    expect(route("PUT", "/proxy-log-level")).to.deep.equal({ kind: "set-log-level" });
    expect(route("PUT", "/proxy-log-level", false)).to.deep.include({ status: 403 });
    expect(route("DELETE", "/proxy-log-level")).to.deep.include({ status: 405 });
  });

  it("shuts down only on POST from localhost, and only when enabled", () => {
    expect(route("POST", "/shutdown")).to.deep.equal({ kind: "shutdown" });
    expect(route("POST", "/shutdown", false)).to.deep.include({ status: 403 });
    expect(route("GET", "/shutdown")).to.deep.include({ status: 405 });
    expect(route("POST", "/shutdown", true, { shutdownEnabled: false })).to.deep.include({
      status: 404,
    });
    expect(route("GET", "/nope")).to.deep.include({ status: 404 });
  });

  it("recognises loopback peers", () => {
    expect(["127.0.0.1", "::1", "::ffff:127.0.0.1"].every(isLoopback)).to.equal(true);
    expect(isLoopback("10.0.0.1")).to.equal(false);
    expect(isLoopback(undefined)).to.equal(false);
  });
});
