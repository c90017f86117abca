// Start-up maps far more of the executable than the proxy goes on using: V8 and Node touch code
// and data once while they initialize, and the kernel maps the cached pages around every page
// that faults (fault-around), so right after a build or an image pull most of Node's ~60 MB of
// code and read-only data counts in the proxy's resident set. Once listening, the proxy gives the
// clean read-only mappings of its executable back (MADV_DONTNEED): they stay in the page cache,
// shared, and the pages the proxy does use fault back in on their next touch, from memory.

import * as fs from "node:fs";
import { nativeAddon } from "./original-dst";

export interface Mapping {
  readonly start: number;
  readonly end: number;
  /** Resident kB when the smaps text was read. */
  readonly rssKb: number;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/;
const FIELD = /^(\w+):\s+(\d+) kB/;

interface Reading {
  start: number;
  end: number;
  rssKb: number;
  ok: boolean;
}

/** A mapping's header line, read: the executable's, private and never writable? */
function header(h: RegExpExecArray, file: string): Reading {
  const perms = h[3];
  const ok = h[4] === file && perms[0] === "r" && perms[1] === "-" && perms[3] === "p";
  return { start: parseInt(h[1], 16), end: parseInt(h[2], 16), rssKb: 0, ok };
}

/** One "Name: N kB" line of a mapping: its Rss, or a page of its own that rules it out. */
function field(cur: Reading, f: RegExpExecArray): void {
  const kb = Number(f[2]);
  if (f[1] === "Rss") cur.rssKb = kb;
  else if ((f[1] === "Anonymous" || f[1] === "Private_Dirty") && kb > 0) cur.ok = false;
}

/**
 * The mappings of `file` in an smaps text that may be given back: read-only (never writable, so
 * no change of ours lives in them) and without a private or anonymous page. Pure.
 */
export function releasableMappings(smaps: string, file: string): Mapping[] {
  const read: Reading[] = [];
  for (const line of smaps.split("\n")) {
    const h = HEADER.exec(line);
    if (h !== null) read.push(header(h, file));
    else if (read.length > 0) {
      const f = FIELD.exec(line);
      if (f !== null) field(read[read.length - 1], f);
    }
  }
  return read.filter((r) => r.ok).map(({ start, end, rssKb }) => ({ start, end, rssKb }));
}

export type Released = { kb: number; mappings: number } | { skipped: string };

/** Gives back this process's clean read-only pages of its executable; what it did, or why not. */
export function releaseStartupPages(file = process.execPath): Released {
  const addon = nativeAddon();
  if ("missing" in addon) return { skipped: addon.missing };
  const release = addon.releasePages;
  if (release === undefined) return { skipped: "the native addon has no releasePages" };
  let smaps: string;
  try {
    smaps = fs.readFileSync("/proc/self/smaps", "latin1");
  } catch (err) {
    return { skipped: (err as Error).message };
  }
  let kb = 0;
  let mappings = 0;
  for (const m of releasableMappings(smaps, file)) {
    if (release(m.start, m.end) !== 0) continue;
    kb += m.rssKb;
    mappings++;
  }
  return { kb, mappings };
}
