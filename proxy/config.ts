// The proxy's configuration, read only from WEFT_PROXY_* environment variables. Every variable is
// checked; a bad value stops the proxy with one ConfigError that lists all of them at once.
import { parseGoDurationMs, parsePortRanges } from "../api/units";

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export type LogLevel = "off" | "error" | "warn" | "info" | "debug" | "trace";
export type LogFormat = "plain" | "json";

export interface DirectionConfig {
  readonly listen: HostPort;
  /** Connect timeout to the upstream, milliseconds. */
  readonly connectTimeoutMs: number;
  /** How long protocol detection waits for the first bytes before treating the stream as opaque, ms. */
  readonly detectTimeoutMs: number;
  /** Ports whose connections skip protocol detection (server-speaks-first protocols). */
  readonly opaquePorts: ReadonlySet<number>;
  /**
   * Test-only: send every connection to this address instead of the original destination.
   * Lets tests run the proxy on loopback without iptables.
   */
  readonly fixedTarget: HostPort | undefined;
}

export interface ProxyConfig {
  readonly inbound: DirectionConfig;
  readonly outbound: DirectionConfig;
  readonly admin: { readonly listen: HostPort; readonly shutdownEndpointEnabled: boolean };
  /** The tap/control port (4190); the tap server plugs in here. */
  readonly control: { readonly listen: HostPort };
  /** How long a drain lets in-flight work finish before closing what remains, ms. */
  readonly shutdownGracePeriodMs: number;
  /** How long an idle pooled HTTP/1 upstream connection is kept, ms. */
  readonly http1PoolIdleTimeoutMs: number;
  /**
   * How long an accepted HTTP/1 keep-alive connection may sit between requests before the proxy
   * closes it, ms; 0 keeps it open. Longer than common client pools' own idle limit (Go's 90 s),
   * so a client usually closes first and never reuses a connection the proxy is closing.
   */
  readonly http1ClientIdleTimeoutMs: number;
  readonly log: { readonly level: LogLevel; readonly format: LogFormat };
  readonly identityDisabled: boolean;
  readonly ingressMode: boolean;
  readonly inboundIps: readonly string[];
  /**
   * Inbound ports that refuse connections without a verified client identity
   * (config.weft.io/proxy-require-identity-inbound-ports).
   */
  readonly inboundPortsRequireIdentity: ReadonlySet<number>;
  /** Settings the destination, identity and tap clients read; kept verbatim. */
  readonly destination: {
    readonly svcAddr: string | undefined;
    readonly svcName: string | undefined;
    readonly context: string | undefined;
    readonly profileSuffixes: string | undefined;
  };
  readonly identity: {
    readonly dir: string | undefined;
    readonly trustAnchors: string | undefined;
    readonly tokenFile: string | undefined;
    readonly svcAddr: string | undefined;
    readonly svcName: string | undefined;
    readonly localName: string | undefined;
  };
  readonly tapSvcName: string | undefined;
}

/** Ports where the server speaks first, so detection would stall (REFERENCE.md). */
export const DEFAULT_OPAQUE_PORTS: readonly number[] = [
  25, 587, 3306, 4444, 5432, 6379, 9300, 11211,
];
/** Inbound connections to the proxy's own tap and admin ports are never inspected. */
const ALWAYS_OPAQUE_INBOUND: readonly number[] = [4190, 4191];

export interface ConfigProblem {
  readonly variable: string;
  readonly value: string;
  readonly expected: string;
}

export class ConfigError extends Error {
  readonly code = "WEFT_ERR_CONFIG";
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      "invalid proxy configuration:\n" +
        problems
          .map((p) => `  ${p.variable}=${JSON.stringify(p.value)}: expected ${p.expected}`)
          .join("\n"),
    );
    this.name = "ConfigError";
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Reads one variable with a parser; records a problem instead of throwing. */
class Reader {
  readonly problems: ConfigProblem[] = [];
  constructor(private readonly env: Env) {}

  get<T>(name: string, fallback: T, expected: string, parse: (v: string) => T | undefined): T {
    const variable = `WEFT_PROXY_${name}`;
    const raw = this.env[variable];
    if (raw === undefined || raw.trim() === "") return fallback;
    const value = parse(raw.trim());
    if (value !== undefined) return value;
    this.problems.push({ variable, value: raw, expected });
    return fallback;
  }

  text(name: string): string | undefined {
    const raw = this.env[`WEFT_PROXY_${name}`];
    return raw === undefined || raw === "" ? undefined : raw;
  }
}

export function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/;

export function isIp(text: string): boolean {
  return IPV4.test(text) || (text.includes(":") && /^[0-9A-Fa-f:.]+$/.test(text));
}

/** `1.2.3.4:80`, `[::1]:80`, or (when hostnames are allowed) `name.ns.svc:80`. */
export function parseHostPort(text: string, allowHostname = false): HostPort | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(text);
  const port = m ? parsePort(m[3]) : undefined;
  if (!m || port === undefined) return undefined;
  return validHost(m[1], m[2], allowHostname) ? { host: m[1] ?? m[2], port } : undefined;
}

function validHost(bracketed: string | undefined, plain: string, allowHostname: boolean): boolean {
  if (bracketed !== undefined) return isIp(bracketed) && bracketed.includes(":");
  return IPV4.test(plain) || (allowHostname && HOSTNAME.test(plain));
}

/** Go durations like `100ms`, `1s`, `1m30s`, `1.5s`; a bare number is milliseconds. */
export function parseDuration(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  const ms = parseGoDurationMs(text);
  return ms === undefined ? undefined : Math.round(ms);
}

export function parseBool(text: string): boolean | undefined {
  const t = text.toLowerCase();
  if (t === "true" || t === "1" || t === "yes") return true;
  if (t === "false" || t === "0" || t === "no") return false;
  return undefined;
}

/** `25,587,8000-8010` (ranges inclusive). */
export const parsePortList = parsePortRanges;

const LEVELS: readonly LogLevel[] = ["off", "error", "warn", "info", "debug", "trace"];

/** A level (`info`), or Linkerd's filter form (`warn,weft=debug`) whose bare entry is the level. */
export function parseLogLevel(text: string): LogLevel | undefined {
  const bare = text
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== "" && !s.includes("="));
  const level = bare.length === 0 ? "warn" : bare[bare.length - 1];
  return (LEVELS as readonly string[]).includes(level) ? (level as LogLevel) : undefined;
}

function parseIpList(text: string): string[] | undefined {
  const ips = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  return ips.every(isIp) ? ips : undefined;
}

const ADDR = "an address like 0.0.0.0:4143 or [::]:4143";
const DURATION = "a duration like 100ms, 1s, 2m";
const BOOL = "true or false";
const PORTS = "a comma-separated list of ports or ranges, like 25,3306,8000-8010";

function direction(
  r: Reader,
  name: "INBOUND" | "OUTBOUND",
  listen: string,
  connect: number,
): DirectionConfig {
  const configured = r.get(`${name}_PORTS_DISABLE_PROTOCOL_DETECTION`, [], PORTS, parsePortList);
  const always = name === "INBOUND" ? ALWAYS_OPAQUE_INBOUND : [];
  return {
    listen: r.get(`${name}_LISTEN_ADDR`, parseHostPort(listen)!, ADDR, (v) => parseHostPort(v)),
    connectTimeoutMs: r.get(`${name}_CONNECT_TIMEOUT`, connect, DURATION, parseDuration),
    detectTimeoutMs: r.get(`${name}_DETECT_TIMEOUT`, 10_000, DURATION, parseDuration),
    opaquePorts: new Set([...DEFAULT_OPAQUE_PORTS, ...always, ...configured]),
    fixedTarget: r.get(`${name}_FIXED_TARGET`, undefined, "host:port (test-only)", (v) =>
      parseHostPort(v, true),
    ),
  };
}

/** Builds the configuration from the environment; throws one ConfigError naming every bad variable. */
export function loadConfig(env: Env = process.env): ProxyConfig {
  const r = new Reader(env);
  const config: ProxyConfig = {
    inbound: direction(r, "INBOUND", "0.0.0.0:4143", 100),
    outbound: direction(r, "OUTBOUND", "127.0.0.1:4140", 1000),
    admin: {
      listen: r.get("ADMIN_LISTEN_ADDR", { host: "0.0.0.0", port: 4191 }, ADDR, (v) =>
        parseHostPort(v),
      ),
      shutdownEndpointEnabled: r.get("SHUTDOWN_ENDPOINT_ENABLED", false, BOOL, parseBool),
    },
    control: {
      listen: r.get("CONTROL_LISTEN_ADDR", { host: "0.0.0.0", port: 4190 }, ADDR, (v) =>
        parseHostPort(v),
      ),
    },
    shutdownGracePeriodMs: r.get("SHUTDOWN_GRACE_PERIOD", 120_000, DURATION, parseDuration),
    http1PoolIdleTimeoutMs: r.get("HTTP1_POOL_IDLE_TIMEOUT", 3000, DURATION, parseDuration),
    http1ClientIdleTimeoutMs: r.get(
      "HTTP1_CLIENT_IDLE_TIMEOUT",
      120_000,
      `${DURATION} (0 keeps idle client connections open)`,
      parseDuration,
    ),
    log: {
      level: r.get(
        "LOG",
        "warn",
        `one of ${LEVELS.join(", ")} (or a filter like warn,weft=debug)`,
        parseLogLevel,
      ),
      format: r.get("LOG_FORMAT", "plain", "plain or json", (v) =>
        v === "plain" || v === "json" ? v : undefined,
      ),
    },
    identityDisabled: r.get("IDENTITY_DISABLED", false, BOOL, parseBool),
    ingressMode: r.get("INGRESS_MODE", false, BOOL, parseBool),
    inboundIps: r.get("INBOUND_IPS", [], "a comma-separated list of IP addresses", parseIpList),
    inboundPortsRequireIdentity: new Set(
      r.get("INBOUND_PORTS_REQUIRE_IDENTITY", [], PORTS, parsePortList),
    ),
    destination: {
      svcAddr: checkedSvcAddr(r, "DESTINATION_SVC_ADDR"),
      svcName: r.text("DESTINATION_SVC_NAME"),
      context: r.text("DESTINATION_CONTEXT"),
      profileSuffixes: r.text("DESTINATION_PROFILE_SUFFIXES"),
    },
    identity: {
      dir: r.text("IDENTITY_DIR"),
      trustAnchors: r.text("IDENTITY_TRUST_ANCHORS"),
      tokenFile: r.text("IDENTITY_TOKEN_FILE"),
      svcAddr: checkedSvcAddr(r, "IDENTITY_SVC_ADDR"),
      svcName: r.text("IDENTITY_SVC_NAME"),
      localName: r.text("IDENTITY_LOCAL_NAME"),
    },
    tapSvcName: r.text("TAP_SVC_NAME"),
  };
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}

function checkedSvcAddr(r: Reader, name: string): string | undefined {
  return r.get(
    name,
    undefined,
    "host:port, like weft-dst.weft-system.svc.cluster.local:8086",
    (v) => (parseHostPort(v, true) ? v : undefined),
  );
}

export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(":") ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}
