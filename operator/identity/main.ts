// `weft-controller identity`: the certificate authority service.
// Gathers (kubeconfig, issuer Secret, anchors ConfigMap), decides (Certify), writes (certs, Events, metrics).
import { createServer, type Server } from "node:http";
import { parseGoDurationMs } from "../../api/units";
import { DEFAULT_CLOCK_SKEW_MS, DEFAULT_LEAF_LIFETIME_MS } from "./ca";
import { IdentityStartupError } from "./errors";
import {
  IssuerStore,
  ISSUER_SECRET_NAME,
  TRUST_ROOTS_CONFIGMAP_NAME,
  type ReloadResult,
} from "./issuer-store";
import {
  apiEventSink,
  apiTokenReviewer,
  checkTokenReviewAccess,
  connectKube,
  watchIssuerSources,
  type EventSink,
  type Kube,
} from "./kube";
import { IdentityMetrics } from "./metrics";
import { ServingCertificate } from "./self-tls";
import { startIdentityServer } from "./server";

export interface IdentityArgs {
  addr: string;
  adminAddr: string;
  namespace: string;
  trustDomain: string;
  issuerSecret: string;
  trustRootsConfigMap: string;
  leafLifetimeMs: number;
  clockSkewMs: number;
  kubeconfig: string | undefined;
  /** The service's own identity for its TLS; "" = `weft-identity.<ns>.serviceaccount.identity.<ns>.<trust-domain>`. */
  serviceIdentity: string;
  /** Serve plaintext gRPC (tests, or a mesh whose proxies have no WEFT_PROXY_IDENTITY_SVC_NAME). */
  insecure: boolean;
}

const DEFAULTS: IdentityArgs = {
  addr: "0.0.0.0:8080",
  adminAddr: "0.0.0.0:9990",
  namespace: "weft-system",
  trustDomain: "cluster.local",
  issuerSecret: ISSUER_SECRET_NAME,
  trustRootsConfigMap: TRUST_ROOTS_CONFIGMAP_NAME,
  leafLifetimeMs: DEFAULT_LEAF_LIFETIME_MS,
  clockSkewMs: DEFAULT_CLOCK_SKEW_MS,
  kubeconfig: undefined,
  serviceIdentity: "",
  insecure: false,
};

/** "24h", "1h30m", "20s", "500ms" → milliseconds. */
export function parseDuration(text: string): number {
  const ms = parseGoDurationMs(text);
  if (ms === undefined) {
    throw new IdentityStartupError(
      `not a duration: ${JSON.stringify(text)} (use e.g. 24h, 90s, 1h30m)`,
    );
  }
  return ms;
}

type Setter = (a: IdentityArgs, v: string) => void;
const FLAGS: Record<string, Setter> = {
  addr: (a, v) => (a.addr = v),
  "admin-addr": (a, v) => (a.adminAddr = v),
  namespace: (a, v) => (a.namespace = v),
  "trust-domain": (a, v) => (a.trustDomain = v),
  "issuer-secret": (a, v) => (a.issuerSecret = v),
  "trust-roots-configmap": (a, v) => (a.trustRootsConfigMap = v),
  "leaf-lifetime": (a, v) => (a.leafLifetimeMs = parseDuration(v)),
  "clock-skew": (a, v) => (a.clockSkewMs = parseDuration(v)),
  kubeconfig: (a, v) => (a.kubeconfig = v),
  "service-identity": (a, v) => (a.serviceIdentity = v),
  insecure: (a, v) => (a.insecure = parseBool(v)),
};

function parseBool(v: string): boolean {
  if (v === "true" || v === "false") return v === "true";
  throw new IdentityStartupError(`--insecure takes true or false, got ${JSON.stringify(v)}`);
}

/** The identity the service's TLS certificate names. */
export function serviceIdentityOf(a: IdentityArgs): string {
  return (
    a.serviceIdentity ||
    `weft-identity.${a.namespace}.serviceaccount.identity.${a.namespace}.${a.trustDomain}`
  );
}

/** Environment the Mesh reconciler sets on the identity Deployment → the flag it stands for. */
const ENV_FLAGS: [string, string][] = [
  ["WEFT_CONTROL_PLANE_NS", "namespace"],
  ["WEFT_TRUST_DOMAIN", "trust-domain"],
  ["WEFT_IDENTITY_ISSUER_SECRET", "issuer-secret"],
  ["WEFT_IDENTITY_TRUST_ANCHORS_CONFIGMAP", "trust-roots-configmap"],
  ["WEFT_IDENTITY_ISSUANCE_LIFETIME", "leaf-lifetime"],
  ["WEFT_IDENTITY_CLOCK_SKEW_ALLOWANCE", "clock-skew"],
  ["WEFT_IDENTITY_SERVICE_IDENTITY", "service-identity"],
  ["WEFT_IDENTITY_INSECURE", "insecure"],
];

/** Defaults, then the environment (WEFT_LISTEN_PORT sets the gRPC port on all addresses). */
export function defaultsFromEnv(env: Record<string, string | undefined>): IdentityArgs {
  const args = { ...DEFAULTS };
  for (const [name, flag] of ENV_FLAGS) {
    const v = env[name];
    if (v !== undefined && v !== "") FLAGS[flag](args, v);
  }
  if (env.WEFT_LISTEN_PORT) args.addr = `0.0.0.0:${env.WEFT_LISTEN_PORT}`;
  return args;
}

/**
 * `--flag=value` or `--flag value` over the environment's settings; unknown flags are an error
 * naming the known ones.
 */
export function parseArgs(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): IdentityArgs {
  const args = defaultsFromEnv(env);
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    const setter = m ? FLAGS[m[1]] : undefined;
    if (!m || !setter) {
      throw new IdentityStartupError(
        `unknown argument ${argv[i]}; flags: ${Object.keys(FLAGS).join(", ")}`,
      );
    }
    const value = m[2] ?? (m[1] === "insecure" ? "true" : argv[++i]);
    if (value === undefined) throw new IdentityStartupError(`--${m[1]} needs a value`);
    setter(args, value);
  }
  return args;
}

function hostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  return { host: addr.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(addr.slice(i + 1)) };
}

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} identity ${line}\n`);
}

/** Metrics, events and logs for one reload result. */
function reportReload(
  result: ReloadResult,
  metrics: IdentityMetrics,
  events: EventSink,
  a: IdentityArgs,
): void {
  const secret = { kind: "Secret", apiVersion: "v1", namespace: a.namespace, name: a.issuerSecret };
  if (result.kind === "loaded") {
    metrics.issuerLoaded(result.issuer.notAfter);
    if (!result.changed) return;
    metrics.issuerReloads.inc({ result: "loaded" });
    log(`issuer loaded, expires ${result.issuer.notAfter.toISOString()}`);
    events(
      secret,
      "Normal",
      "IssuerUpdated",
      `issuer loaded; expires ${result.issuer.notAfter.toISOString()}`,
    );
    return;
  }
  metrics.issuerReloads.inc({ result: "invalid" });
  const kept = result.keptPrevious
    ? "; still signing with the previous issuer"
    : "; Certify answers UNAVAILABLE";
  log(`issuer invalid (${result.error.code}): ${result.error.message}${kept}`);
  events(
    secret,
    "Warning",
    "InvalidIssuer",
    `${result.error.code}: ${result.error.message}${kept}`,
  );
  if (!result.keptPrevious) metrics.issuerLoaded(undefined);
}

function startAdmin(addr: string, metrics: IdentityMetrics, store: IssuerStore): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === "/metrics") {
      metrics.registry
        .metrics()
        .then((text) => res.writeHead(200, { "content-type": "text/plain" }).end(text));
    } else if (req.url === "/ready") {
      res.writeHead(store.current() ? 200 : 503).end(store.current() ? "ready\n" : "no issuer\n");
    } else if (req.url === "/live") {
      res.writeHead(200).end("live\n");
    } else res.writeHead(404).end();
  });
  const { host, port } = hostPort(addr);
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

export interface IdentityService {
  /** The gRPC port (useful with an :0 address). */
  port: number;
  store: IssuerStore;
  metrics: IdentityMetrics;
  stop(): Promise<void>;
}

/**
 * Starts the service against `kube`: the TokenReview self-check, the watches on the issuer Secret
 * and anchors ConfigMap in `a.namespace`, gRPC and admin. `controlPlaneNamespace` (default
 * `a.namespace`) is the one named in identities.
 */
export async function startIdentityService(
  a: IdentityArgs,
  kube: Kube,
  controlPlaneNamespace: string = a.namespace,
): Promise<IdentityService> {
  await untilReachable(() => checkTokenReviewAccess(kube));
  const metrics = new IdentityMetrics();
  const store = new IssuerStore();
  const events = apiEventSink(kube, "weft-identity", (err) =>
    log(`event not recorded: ${String(err)}`),
  );
  const serving = a.insecure
    ? undefined
    : new ServingCertificate(serviceIdentityOf(a), a.leafLifetimeMs, log);
  let chain = Promise.resolve();
  const watch = watchIssuerSources(
    kube,
    a.namespace,
    { secret: a.issuerSecret, configMap: a.trustRootsConfigMap },
    (sources) => {
      chain = chain
        .then(() => store.reload(sources))
        .then((r) => reportReload(r, metrics, events, a))
        .then(() => serving?.follow(store.current()))
        .catch((err: unknown) => log(`issuer reload: ${String(err)}`));
    },
    (err) => log(`watch: ${String(err)}`),
  );
  const grpcServer = await startIdentityServer(
    {
      issuer: () => store.current(),
      review: apiTokenReviewer(kube),
      trustDomain: a.trustDomain,
      controlPlaneNamespace,
      leafLifetimeMs: a.leafLifetimeMs,
      clockSkewMs: a.clockSkewMs,
      now: () => new Date(),
      metrics,
      events,
      log,
    },
    a.addr,
    serving?.credentials(),
  );
  const admin = await startAdmin(a.adminAddr, metrics, store);
  const mode = serving ? `TLS as ${serving.identity}` : "plaintext";
  log(`serving Identity on ${a.addr} (port ${grpcServer.port}, ${mode}), admin on ${a.adminAddr}`);
  return {
    port: grpcServer.port,
    store,
    metrics,
    stop: async (): Promise<void> => {
      watch.stop();
      serving?.stop();
      admin.close();
      await grpcServer.close();
    },
  };
}

/**
 * Retries `check` while the API server cannot be reached (up to ~1 min, backoff 0.5 s → 8 s);
 * a definite answer (IdentityStartupError) or the last failure is thrown.
 */
export async function untilReachable(check: () => Promise<void>, attempts = 10): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      return await check();
    } catch (err) {
      if (err instanceof IdentityStartupError || i >= attempts) throw err;
      log(`API server not reachable (${String(err)}); retrying`);
      await new Promise((r) => setTimeout(r, Math.min(8000, 500 * 2 ** (i - 1))));
    }
  }
}

/** Runs the identity service until SIGTERM/SIGINT. */
export async function run(argv: string[]): Promise<void> {
  const a = parseArgs(argv);
  const service = await startIdentityService(a, await connectKube(a.kubeconfig));
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  await service.stop();
}
