import * as net from "node:net";
import { InitUsageError } from "./errors";

/** A destination port or an inclusive range (`from === to` for a single port). */
export interface PortRange {
  from: number;
  to: number;
}

export type IptablesMode = "default" | "legacy" | "nft";

export interface InitOptions {
  incomingProxyPort: number;
  outgoingProxyPort: number;
  proxyUid: number;
  inboundPortsToIgnore: PortRange[];
  outboundPortsToIgnore: PortRange[];
  /** CIDRs whose inbound traffic (by source) skips the proxy. */
  subnetsToIgnore: string[];
  ipv6: boolean;
  simulate: boolean;
  cleanup: boolean;
  iptablesMode: IptablesMode;
  help: boolean;
}

/** The proxy's own control and admin ports are never redirected inbound (REFERENCE.md). */
export const ALWAYS_IGNORED_INBOUND: PortRange[] = [
  { from: 4190, to: 4190 },
  { from: 4191, to: 4191 },
];

type Kind = "port" | "uid" | "ports" | "cidrs" | "bool" | "mode";

interface FlagSpec {
  flag: string;
  key: keyof InitOptions;
  kind: Kind;
  env: string;
}

const spec = (flag: string, key: keyof InitOptions, kind: Kind): FlagSpec => ({
  flag,
  key,
  kind,
  env: "WEFT_INIT_" + flag.slice(2).toUpperCase().replace(/-/g, "_"),
});

export const FLAGS: FlagSpec[] = [
  spec("--incoming-proxy-port", "incomingProxyPort", "port"),
  spec("--outgoing-proxy-port", "outgoingProxyPort", "port"),
  spec("--proxy-uid", "proxyUid", "uid"),
  spec("--inbound-ports-to-ignore", "inboundPortsToIgnore", "ports"),
  spec("--outbound-ports-to-ignore", "outboundPortsToIgnore", "ports"),
  spec("--subnets-to-ignore", "subnetsToIgnore", "cidrs"),
  spec("--ipv6", "ipv6", "bool"),
  spec("--simulate", "simulate", "bool"),
  spec("--cleanup", "cleanup", "bool"),
  spec("--iptables-mode", "iptablesMode", "mode"),
  spec("--help", "help", "bool"),
];

export const FORMS: Record<Kind, string> = {
  port: "a port 1-65535",
  uid: "a user id 0-4294967294",
  ports: "comma-separated ports or ranges, e.g. 25,3306,8000-8010",
  cidrs: "comma-separated CIDRs, e.g. 10.0.0.0/8,fd00::/8",
  bool: "true or false",
  mode: "legacy or nft",
};

export function defaults(): InitOptions {
  return {
    incomingProxyPort: 4143,
    outgoingProxyPort: 4140,
    proxyUid: 2102,
    inboundPortsToIgnore: [],
    outboundPortsToIgnore: [],
    subnetsToIgnore: [],
    ipv6: false,
    simulate: false,
    cleanup: false,
    iptablesMode: "default",
    help: false,
  };
}

function intIn(text: string, min: number, max: number): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}

function portRange(item: string): PortRange | undefined {
  const [a, b, extra] = item.split("-");
  const from = intIn(a, 1, 65535);
  const to = b === undefined ? from : intIn(b, 1, 65535);
  if (extra !== undefined || from === undefined || to === undefined || to < from) return undefined;
  return { from, to };
}

function list<T>(text: string, one: (item: string) => T | undefined): T[] | undefined {
  const items = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const parsed = items.map(one);
  return parsed.every((p) => p !== undefined) ? (parsed as T[]) : undefined;
}

function cidr(item: string): string | undefined {
  const [ip, bits, extra] = item.split("/");
  const family = net.isIP(ip);
  const max = family === 6 ? 128 : 32;
  if (family === 0 || extra !== undefined) return undefined;
  if (bits === undefined) return `${ip}/${max}`;
  return intIn(bits, 0, max) === undefined ? undefined : `${ip}/${bits}`;
}

function bool(text: string): boolean | undefined {
  if (text === "" || text === "true" || text === "1") return true;
  return text === "false" || text === "0" ? false : undefined;
}

const PARSERS: Record<Kind, (text: string) => unknown> = {
  port: (t) => intIn(t, 1, 65535),
  uid: (t) => intIn(t, 0, 4294967294),
  ports: (t) => list(t, portRange),
  cidrs: (t) => list(t, cidr),
  bool,
  mode: (t) => (t === "legacy" || t === "nft" ? t : undefined),
};

interface RawValue {
  spec: FlagSpec;
  text: string;
  source: string;
}

function splitArg(arg: string): [string, string | undefined] {
  const eq = arg.indexOf("=");
  return eq < 0 ? [arg, undefined] : [arg.slice(0, eq), arg.slice(eq + 1)];
}

/** Flags as `--name value`, `--name=value`, or a bare boolean `--name`. */
function rawFromArgv(argv: string[], problems: string[]): RawValue[] {
  const out: RawValue[] = [];
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = splitArg(argv[i]);
    const s = FLAGS.find((f) => f.flag === name);
    if (!s) {
      problems.push(`unknown argument '${argv[i]}' (run 'weft-proxy init --help')`);
      continue;
    }
    const takesNext = inline === undefined && s.kind !== "bool";
    const text = takesNext ? argv[++i] : (inline ?? "");
    if (text === undefined) problems.push(`${s.flag} needs a value: ${FORMS[s.kind]}`);
    else out.push({ spec: s, text, source: s.flag });
  }
  return out;
}

function rawFromEnv(env: NodeJS.ProcessEnv): RawValue[] {
  return FLAGS.filter((s) => env[s.env] !== undefined).map((s) => ({
    spec: s,
    text: env[s.env] as string,
    source: s.env,
  }));
}

/** Flags win over WEFT_INIT_* environment variables; every bad value is reported at once. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = {}): InitOptions {
  const problems: string[] = [];
  const opts = defaults() as unknown as Record<string, unknown>;
  for (const raw of [...rawFromEnv(env), ...rawFromArgv(argv, problems)]) {
    const value = PARSERS[raw.spec.kind](raw.text.trim());
    if (value === undefined) {
      problems.push(`${raw.source}='${raw.text}' is invalid: expected ${FORMS[raw.spec.kind]}`);
    } else {
      opts[raw.spec.key] = value;
    }
  }
  if (problems.length > 0) throw new InitUsageError(problems);
  return opts as unknown as InitOptions;
}

export function usage(): string {
  const lines = FLAGS.map((f) => `  ${f.flag.padEnd(28)} ${FORMS[f.kind]} (env ${f.env})`);
  return [
    "usage: weft-proxy init [flags]",
    "Installs the nat-table rules that send the pod's TCP traffic through the proxy.",
    ...lines,
    "",
  ].join("\n");
}
