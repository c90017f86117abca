// The units every contract speaks: Go durations ("1m30s") in CRDs, annotations and WEFT_PROXY_*
// variables, and port lists ("25,3306-3308") in annotations and proxy settings. One parser each,
// so the operator never accepts a value the proxy then refuses.

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A Go duration (`200ms`, `1m30s`, `1.5s`, `0`) in milliseconds; undefined when malformed. */
export function parseGoDurationMs(text: string): number | undefined {
  const s = text.trim();
  if (s === "0") return 0;
  const re = /(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let matched = 0;
  while (matched < s.length) {
    re.lastIndex = matched;
    const m = re.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]];
    matched = re.lastIndex;
  }
  return matched > 0 ? total : undefined;
}

/** `25,587,8000-8010` → every port, in order of appearance (ranges inclusive); undefined when any part is not a port or range. */
export function parsePortRanges(text: string): number[] | undefined {
  const ports: number[] = [];
  for (const part of text.split(",").map((s) => s.trim())) {
    if (part === "") continue;
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part);
    if (!m) return undefined;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 1 || hi > 65535 || hi < lo) return undefined;
    for (let p = lo; p <= hi; p++) ports.push(p);
  }
  return ports;
}
