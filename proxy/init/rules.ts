import * as net from "node:net";
import { ALWAYS_IGNORED_INBOUND, type InitOptions, type PortRange } from "./options";

export type Family = 4 | 6;

export const REDIRECT_CHAIN = "PROXY_INIT_REDIRECT";
export const OUTPUT_CHAIN = "PROXY_INIT_OUTPUT";
export const COMMENT_PREFIX = "weft-init/";
/** multiport takes at most 15 ports per rule, a range counting as two. */
export const MULTIPORT_MAX = 15;

/** One rule appended to a chain; `comment` names its purpose and is always attached. */
export interface Rule {
  chain: string;
  args: string[];
  comment: string;
}

/** What iptables-save says about the nat table: chain names and each `-A` rule, tokenized. */
export interface NatState {
  chains: Set<string>;
  rules: string[][];
}

/** The jumps into our chains from the built-in ones. */
export const JUMPS: Rule[] = [
  { chain: "PREROUTING", args: ["-j", REDIRECT_CHAIN], comment: "install-proxy-init-prerouting" },
  { chain: "OUTPUT", args: ["-j", OUTPUT_CHAIN], comment: "install-proxy-init-output" },
];

const portText = (r: PortRange): string => (r.from === r.to ? `${r.from}` : `${r.from}:${r.to}`);
const portWeight = (r: PortRange): number => (r.from === r.to ? 1 : 2);

/** Sorted, de-duplicated, chunked into groups that fit one multiport match. */
export function multiportChunks(ranges: PortRange[]): string[] {
  const unique = [...new Map(ranges.map((r) => [portText(r), r])).values()].sort(
    (a, b) => a.from - b.from || a.to - b.to,
  );
  const chunks: string[] = [];
  let current: PortRange[] = [];
  let weight = 0;
  for (const r of unique) {
    if (weight + portWeight(r) > MULTIPORT_MAX) {
      chunks.push(current.map(portText).join(","));
      current = [];
      weight = 0;
    }
    current.push(r);
    weight += portWeight(r);
  }
  if (current.length > 0) chunks.push(current.map(portText).join(","));
  return chunks;
}

function ignorePorts(chain: string, ranges: PortRange[], comment: string): Rule[] {
  return multiportChunks(ranges).map((ports) => ({
    chain,
    args: ["-p", "tcp", "-m", "multiport", "--dports", ports, "-j", "RETURN"],
    comment,
  }));
}

function familyOf(cidr: string): Family {
  return net.isIP(cidr.split("/")[0]) === 6 ? 6 : 4;
}

/** The body of PROXY_INIT_REDIRECT: skip ignored ports and subnets, send the rest to inbound. */
export function redirectRules(opts: InitOptions, family: Family): Rule[] {
  const ports = [...ALWAYS_IGNORED_INBOUND, ...opts.inboundPortsToIgnore];
  const subnets = [...new Set(opts.subnetsToIgnore)].filter((c) => familyOf(c) === family);
  return [
    ...ignorePorts(REDIRECT_CHAIN, ports, "ignore-inbound-ports"),
    ...subnets.map((s) => ({
      chain: REDIRECT_CHAIN,
      args: ["-s", s, "-j", "RETURN"],
      comment: "ignore-subnet",
    })),
    {
      chain: REDIRECT_CHAIN,
      args: ["-p", "tcp", "-j", "REDIRECT", "--to-ports", `${opts.incomingProxyPort}`],
      comment: "redirect-all-incoming-to-proxy-port",
    },
  ];
}

/** The body of PROXY_INIT_OUTPUT: the proxy's own traffic and loopback go out as they are. */
export function outputRules(opts: InitOptions): Rule[] {
  return [
    {
      chain: OUTPUT_CHAIN,
      args: ["-m", "owner", "--uid-owner", `${opts.proxyUid}`, "-j", "RETURN"],
      comment: "ignore-proxy-user-id",
    },
    { chain: OUTPUT_CHAIN, args: ["-o", "lo", "-j", "RETURN"], comment: "ignore-loopback" },
    ...ignorePorts(OUTPUT_CHAIN, opts.outboundPortsToIgnore, "ignore-outbound-ports"),
    {
      chain: OUTPUT_CHAIN,
      args: ["-p", "tcp", "-j", "REDIRECT", "--to-ports", `${opts.outgoingProxyPort}`],
      comment: "redirect-all-outgoing-to-proxy-port",
    },
  ];
}

/** `-A CHAIN ... -m comment --comment weft-init/<purpose>` as iptables arguments. */
export function appendArgs(rule: Rule): string[] {
  return [
    "-A",
    rule.chain,
    ...rule.args,
    "-m",
    "comment",
    "--comment",
    COMMENT_PREFIX + rule.comment,
  ];
}

const nat = (...args: string[]): string[] => ["-t", "nat", ...args];

function jumpsInto(state: NatState, parent: string, chain: string): string[][] {
  return state.rules.filter((r) => r[0] === "-A" && r[1] === parent && targetOf(r) === chain);
}

/** The `-j` target of a tokenized rule, if any. */
export function targetOf(rule: string[]): string | undefined {
  const i = rule.indexOf("-j");
  return i >= 0 ? rule[i + 1] : undefined;
}

/**
 * Commands that bring the nat table to our rules from `state`: existing chains are flushed,
 * missing ones created, and a jump is added only when none is there, so a second run is a no-op.
 */
export function installCommands(opts: InitOptions, family: Family, state: NatState): string[][] {
  const chains = [REDIRECT_CHAIN, OUTPUT_CHAIN].map((c) =>
    nat(state.chains.has(c) ? "-F" : "-N", c),
  );
  const body = [...redirectRules(opts, family), ...outputRules(opts)].map((r) =>
    nat(...appendArgs(r)),
  );
  const jumps = JUMPS.filter((j) => jumpsInto(state, j.chain, j.args[1]).length === 0).map((j) =>
    nat(...appendArgs(j)),
  );
  return [...chains, ...body, ...jumps];
}

/** Every jump into our chains is deleted first (a chain cannot go while referenced), then the chains. */
export function cleanupCommands(state: NatState): string[][] {
  const deletes = JUMPS.flatMap((j) => jumpsInto(state, j.chain, j.args[1])).map((r) =>
    nat("-D", ...r.slice(1)),
  );
  const chains = [REDIRECT_CHAIN, OUTPUT_CHAIN].filter((c) => state.chains.has(c));
  return [...deletes, ...chains.map((c) => nat("-F", c)), ...chains.map((c) => nat("-X", c))];
}

/** The state of a nat table that has none of our chains (what --simulate assumes). */
export function emptyNatState(): NatState {
  return { chains: new Set(["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"]), rules: [] };
}
