// Parsers for annotation values. Each returns undefined when the value is not valid, so the caller
// can name the annotation and the expected form in one place.
import { parseGoDurationMs } from "../../api/units";

export type PortRange = readonly [number, number];

const CPU = /^(\d+(\.\d+)?|\d+m)$/;
const MEMORY = /^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
const LOG_LEVEL =
  /^((?:[a-z_][a-z0-9_:]*=)?(trace|debug|info|warn|error|off))(,(?:[a-z_][a-z0-9_:]*=)?(trace|debug|info|warn|error|off))*$/;
const IMAGE = /^[a-z0-9][a-z0-9._\-/:@]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parsePort(v: string): number | undefined {
  if (!/^\d{1,5}$/.test(v.trim())) return undefined;
  const n = Number(v.trim());
  return n >= 1 && n <= 65535 ? n : undefined;
}

function parseRange(part: string): PortRange | undefined {
  const [lo, hi, extra] = part.split("-");
  if (extra !== undefined) return undefined;
  const a = parsePort(lo);
  const b = hi === undefined ? a : parsePort(hi);
  if (a === undefined || b === undefined || b < a) return undefined;
  return [a, b];
}

/** "25,8000-8100" → [[25,25],[8000,8100]]; empty string → []. */
export function parsePortRanges(v: string): PortRange[] | undefined {
  const parts = v
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  const ranges = parts.map(parseRange);
  return ranges.every((r) => r !== undefined) ? (ranges as PortRange[]) : undefined;
}

export function formatPortRanges(ranges: readonly PortRange[]): string {
  return ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(",");
}

export function portInRanges(port: number, ranges: readonly PortRange[]): boolean {
  return ranges.some(([a, b]) => port >= a && port <= b);
}

function validIPv4Cidr(v: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(v);
  if (!m) return false;
  const octets = m.slice(1, 5).map(Number);
  return octets.every((o) => o <= 255) && Number(m[5]) <= 32;
}

function validIPv6Cidr(v: string): boolean {
  const m = /^([0-9a-fA-F:]+)\/(\d{1,3})$/.exec(v);
  return m !== null && m[1].includes(":") && Number(m[2]) <= 128;
}

export function parseSubnets(v: string): string[] | undefined {
  const parts = v
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  return parts.every((p) => validIPv4Cidr(p) || validIPv6Cidr(p)) ? parts : undefined;
}

export function parseDuration(v: string): string | undefined {
  return parseGoDurationMs(v) === undefined ? undefined : v.trim();
}

/** Milliseconds of a duration string such as "1m30s" or "100ms" (0 when malformed). */
export function durationMs(v: string): number {
  return parseGoDurationMs(v) ?? 0;
}

export function parseCpu(v: string): string | undefined {
  return CPU.test(v.trim()) ? v.trim() : undefined;
}

export function parseMemory(v: string): string | undefined {
  return MEMORY.test(v.trim()) ? v.trim() : undefined;
}

export function parseLogLevel(v: string): string | undefined {
  return LOG_LEVEL.test(v.trim()) ? v.trim() : undefined;
}

export function parseLogFormat(v: string): "plain" | "json" | undefined {
  const t = v.trim();
  return t === "plain" || t === "json" ? t : undefined;
}

export function parseImage(v: string): string | undefined {
  return IMAGE.test(v.trim()) ? v.trim() : undefined;
}

export function parseVersion(v: string): string | undefined {
  return /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(v.trim()) ? v.trim() : undefined;
}

export function parseUid(v: string): number | undefined {
  if (!/^\d+$/.test(v.trim())) return undefined;
  const n = Number(v.trim());
  return n >= 1 && n <= 2147483647 ? n : undefined;
}

/** enabled/disabled, true/false. */
export function parseSwitch(v: string): boolean | undefined {
  const t = v.trim().toLowerCase();
  if (t === "enabled" || t === "true") return true;
  if (t === "disabled" || t === "false") return false;
  return undefined;
}

export function parsePullPolicy(v: string): string | undefined {
  return ["Always", "IfNotPresent", "Never"].includes(v.trim()) ? v.trim() : undefined;
}

export interface EnvPair {
  name: string;
  value: string;
}

function envFromJson(v: string): EnvPair[] | undefined {
  try {
    const parsed: unknown = JSON.parse(v);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
    return Object.entries(parsed).map(([name, value]) => ({ name, value: String(value) }));
  } catch {
    return undefined;
  }
}

function envFromPairs(v: string): EnvPair[] | undefined {
  const parts = v
    .split(/[,\n]/)
    .map((p) => p.trim())
    .filter((p) => p !== "");
  const pairs = parts.map((p) => {
    const i = p.indexOf("=");
    return i > 0 ? { name: p.slice(0, i), value: p.slice(i + 1) } : undefined;
  });
  return pairs.every((p) => p !== undefined) ? (pairs as EnvPair[]) : undefined;
}

/** `{"NAME":"value"}` or `NAME=value,OTHER=value`. */
export function parseEnv(v: string): EnvPair[] | undefined {
  const pairs = v.trim().startsWith("{") ? envFromJson(v) : envFromPairs(v);
  if (pairs === undefined) return undefined;
  return pairs.every((p) => ENV_NAME.test(p.name)) ? pairs : undefined;
}
