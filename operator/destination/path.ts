/** Parsing of GetDestination paths and context tokens. */
import { isIP } from "node:net";
import { InvalidPathError } from "./errors";

export type Target =
  | {
      kind: "service";
      namespace: string;
      service: string;
      port: number;
      hostname: string | undefined;
      fqn: string;
    }
  | { kind: "ip"; ip: string; port: number };

function splitHostPort(path: string): { host: string; port: number } {
  const bracket = path.match(/^\[([^\]]+)\]:(\d+)$/);
  const m = bracket ?? path.match(/^(.*):(\d+)$/);
  if (!m) throw new InvalidPathError(path, "no port");
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new InvalidPathError(path, "port out of range");
  return { host: m[1], port };
}

/**
 * `<svc>.<ns>.svc.<domain>:<port>`, `<hostname>.<svc>.<ns>.svc.<domain>:<port>` (a pod of a
 * headless Service) or `<ip>:<port>`.
 */
export function parsePath(path: string, clusterDomain: string): Target {
  const { host, port } = splitHostPort(path.trim());
  if (isIP(host)) return { kind: "ip", ip: host, port };
  const name = host.replace(/\.$/, "");
  const suffix = `.svc.${clusterDomain}`;
  if (!name.endsWith(suffix)) throw new InvalidPathError(path, `not a name under ${suffix}`);
  const labels = name.slice(0, -suffix.length).split(".");
  if (labels.length < 2 || labels.length > 3 || labels.some((l) => l === "")) {
    throw new InvalidPathError(path, "expected <svc>.<ns> or <hostname>.<svc>.<ns> before .svc");
  }
  const hostname = labels.length === 3 ? labels[0] : undefined;
  const [service, namespace] = labels.slice(-2);
  return {
    kind: "service",
    namespace,
    service,
    port,
    hostname,
    fqn: `${service}.${namespace}${suffix}`,
  };
}

export interface ContextToken {
  ns: string;
  nodeName: string;
  pod: string;
}

/** The client's context (`{"ns":..,"nodeName":..,"pod":..}`); malformed tokens yield empty fields. */
export function parseContextToken(token: string): ContextToken {
  try {
    const v = JSON.parse(token) as Partial<Record<keyof ContextToken, unknown>>;
    const str = (x: unknown): string => (typeof x === "string" ? x : "");
    return { ns: str(v.ns), nodeName: str(v.nodeName), pod: str(v.pod) };
  } catch {
    return { ns: "", nodeName: "", pod: "" };
  }
}
