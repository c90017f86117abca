import { expect } from "chai";
import {
  ConfigError,
  DEFAULT_OPAQUE_PORTS,
  loadConfig,
  parseDuration,
  parseHostPort,
  parseLogLevel,
  parsePortList,
} from "./config";

describe("config", () => {
  it("uses the documented defaults with an empty environment", () => {
    const c = loadConfig({});
    expect(c.inbound.listen).to.deep.equal({ host: "0.0.0.0", port: 4143 });
    expect(c.outbound.listen).to.deep.equal({ host: "127.0.0.1", port: 4140 });
    expect(c.admin.listen).to.deep.equal({ host: "0.0.0.0", port: 4191 });
    expect(c.control.listen).to.deep.equal({ host: "0.0.0.0", port: 4190 });
    expect(c.inbound.connectTimeoutMs).to.equal(100);
    expect(c.outbound.connectTimeoutMs).to.equal(1000);
    expect(c.outbound.detectTimeoutMs).to.equal(10_000);
    expect(c.shutdownGracePeriodMs).to.equal(120_000);
    expect(c.http1PoolIdleTimeoutMs).to.equal(3000);
    expect(c.http1ClientIdleTimeoutMs).to.equal(120_000);
    expect(c.admin.shutdownEndpointEnabled).to.equal(false);
    expect(c.log).to.deep.equal({ level: "warn", format: "plain" });
    expect([...c.outbound.opaquePorts].sort((a, b) => a - b)).to.deep.equal([
      ...DEFAULT_OPAQUE_PORTS,
    ]);
    expect(c.inbound.opaquePorts.has(4190) && c.inbound.opaquePorts.has(4191)).to.equal(true);
    expect(c.outbound.fixedTarget).to.equal(undefined);
  });

  it("reads every WEFT_PROXY_* setting", () => {
    const c = loadConfig({
      WEFT_PROXY_INBOUND_LISTEN_ADDR: "[::]:5143",
      WEFT_PROXY_OUTBOUND_CONNECT_TIMEOUT: "2s",
      WEFT_PROXY_INBOUND_DETECT_TIMEOUT: "500ms",
      WEFT_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION: "8000-8002, 9000",
      WEFT_PROXY_SHUTDOWN_GRACE_PERIOD: "30s",
      WEFT_PROXY_SHUTDOWN_ENDPOINT_ENABLED: "true",
      WEFT_PROXY_LOG: "warn,weft=debug,info",
      WEFT_PROXY_LOG_FORMAT: "json",
      WEFT_PROXY_OUTBOUND_FIXED_TARGET: "web.shop.svc:8080",
      WEFT_PROXY_INBOUND_IPS: "10.0.0.5,fd00::5",
      WEFT_PROXY_DESTINATION_SVC_ADDR: "weft-dst.weft-system.svc.cluster.local:8086",
      WEFT_PROXY_IDENTITY_LOCAL_NAME: "web.shop.serviceaccount.identity.weft-system.cluster.local",
    });
    expect(c.inbound.listen).to.deep.equal({ host: "::", port: 5143 });
    expect(c.outbound.connectTimeoutMs).to.equal(2000);
    expect(c.inbound.detectTimeoutMs).to.equal(500);
    expect([8000, 8001, 8002, 9000, 3306].every((p) => c.inbound.opaquePorts.has(p))).to.equal(
      true,
    );
    expect(c.shutdownGracePeriodMs).to.equal(30_000);
    expect(c.admin.shutdownEndpointEnabled).to.equal(true);
    expect(c.log).to.deep.equal({ level: "info", format: "json" });
    expect(c.outbound.fixedTarget).to.deep.equal({ host: "web.shop.svc", port: 8080 });
    expect(c.inboundIps).to.deep.equal(["10.0.0.5", "fd00::5"]);
    expect(c.destination.svcAddr).to.equal("weft-dst.weft-system.svc.cluster.local:8086");
    expect(c.identity.localName).to.equal(
      "web.shop.serviceaccount.identity.weft-system.cluster.local",
    );
  });

  it("reads the HTTP/1 idle timeouts, 0 turning the client one off, and names a bad one", () => {
    const c = loadConfig({
      WEFT_PROXY_HTTP1_CLIENT_IDLE_TIMEOUT: "30s",
      WEFT_PROXY_HTTP1_POOL_IDLE_TIMEOUT: "1s",
    });
    expect([c.http1ClientIdleTimeoutMs, c.http1PoolIdleTimeoutMs]).to.deep.equal([30_000, 1000]);
    expect(
      loadConfig({ WEFT_PROXY_HTTP1_CLIENT_IDLE_TIMEOUT: "0" }).http1ClientIdleTimeoutMs,
    ).to.equal(0);
    expect(() => loadConfig({ WEFT_PROXY_HTTP1_CLIENT_IDLE_TIMEOUT: "soon" })).to.throw(
      ConfigError,
      /WEFT_PROXY_HTTP1_CLIENT_IDLE_TIMEOUT="soon": expected a duration like 100ms, 1s, 2m \(0 keeps/,
    );
  });

  it("reads the ports that require a client identity (none by default)", () => {
    expect([...loadConfig({}).inboundPortsRequireIdentity]).to.deep.equal([]);
    const c = loadConfig({ WEFT_PROXY_INBOUND_PORTS_REQUIRE_IDENTITY: "8080, 9000-9002" });
    expect([...c.inboundPortsRequireIdentity]).to.deep.equal([8080, 9000, 9001, 9002]);
    expect(() => loadConfig({ WEFT_PROXY_INBOUND_PORTS_REQUIRE_IDENTITY: "http" })).to.throw(
      ConfigError,
      /WEFT_PROXY_INBOUND_PORTS_REQUIRE_IDENTITY="http": expected a comma-separated list/,
    );
  });

  it("lists every bad variable with its expected form in one error", () => {
    let err: unknown;
    try {
      loadConfig({
        WEFT_PROXY_ADMIN_LISTEN_ADDR: "localhost",
        WEFT_PROXY_OUTBOUND_CONNECT_TIMEOUT: "fast",
        WEFT_PROXY_SHUTDOWN_ENDPOINT_ENABLED: "maybe",
        WEFT_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION: "70000",
        WEFT_PROXY_LOG: "loud",
        WEFT_PROXY_LOG_FORMAT: "xml",
      });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.code).to.equal("WEFT_ERR_CONFIG");
    expect(e.problems.map((p) => p.variable).sort()).to.deep.equal([
      "WEFT_PROXY_ADMIN_LISTEN_ADDR",
      "WEFT_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION",
      "WEFT_PROXY_LOG",
      "WEFT_PROXY_LOG_FORMAT",
      "WEFT_PROXY_OUTBOUND_CONNECT_TIMEOUT",
      "WEFT_PROXY_SHUTDOWN_ENDPOINT_ENABLED",
    ]);
    expect(e.message).to.include(
      'WEFT_PROXY_OUTBOUND_CONNECT_TIMEOUT="fast": expected a duration like 100ms, 1s, 2m',
    );
    expect(e.message).to.include(
      'WEFT_PROXY_ADMIN_LISTEN_ADDR="localhost": expected an address like 0.0.0.0:4143',
    );
  });

  it("parses addresses strictly", () => {
    expect(parseHostPort("1.2.3.4:80")).to.deep.equal({ host: "1.2.3.4", port: 80 });
    expect(parseHostPort("[fd00::1]:443")).to.deep.equal({ host: "fd00::1", port: 443 });
    expect(parseHostPort("1.2.3.4")).to.equal(undefined);
    expect(parseHostPort("1.2.3.4:65536")).to.equal(undefined);
    expect(parseHostPort("300.1.1.1:80")).to.equal(undefined);
    expect(parseHostPort("name:80")).to.equal(undefined);
    expect(parseHostPort("name.ns.svc:80", true)).to.deep.equal({ host: "name.ns.svc", port: 80 });
  });

  it("parses durations, port lists and log levels", () => {
    expect(parseDuration("100ms")).to.equal(100);
    expect(parseDuration("1.5s")).to.equal(1500);
    expect(parseDuration("2m")).to.equal(120_000);
    expect(parseDuration("250")).to.equal(250);
    // The injector accepts compound Go durations in annotations; the proxy must too.
    expect(parseDuration("1m30s")).to.equal(90_000);
    expect(parseDuration("-1s")).to.equal(undefined);
    expect(parseDuration("1d")).to.equal(undefined);
    expect(parsePortList("25,587, 10-12")).to.deep.equal([25, 587, 10, 11, 12]);
    expect(parsePortList("12-10")).to.equal(undefined);
    expect(parsePortList("x")).to.equal(undefined);
    expect(parseLogLevel("DEBUG")).to.equal("debug");
    expect(parseLogLevel("weft=trace")).to.equal("warn");
    expect(parseLogLevel("verbose")).to.equal(undefined);
  });
});
