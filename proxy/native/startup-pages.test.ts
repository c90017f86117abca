import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as path from "node:path";
import { releasableMappings } from "./startup-pages";

const EXE = "/usr/bin/node";

function mapping(
  range: string,
  perms: string,
  file: string,
  fields: Record<string, number>,
): string {
  const lines = [`${range} ${perms} 00000000 08:01 1234    ${file}`];
  for (const [k, v] of Object.entries({
    Size: 100,
    Rss: 0,
    Anonymous: 0,
    Private_Dirty: 0,
    ...fields,
  })) {
    lines.push(`${k}:${" ".repeat(16 - k.length)}${v} kB`);
  }
  lines.push("VmFlags: rd mr mw me");
  return lines.join("\n");
}

describe("startup pages: which mappings may be given back", () => {
  it("takes the clean read-only mappings of the executable, with their resident size", () => {
    const smaps = [
      mapping("00400000-00b6f000", "r--p", EXE, { Rss: 4988 }),
      mapping("00b72000-02601000", "r-xp", EXE, { Rss: 22004 }),
      mapping("0de60000-0e020000", "rw-p", EXE, {
        Rss: 1792,
        Private_Dirty: 1700,
        Anonymous: 1700,
      }),
      mapping("7f00000000-7f00100000", "r-xp", "/usr/lib/x86_64-linux-gnu/libc.so.6", {
        Rss: 1048,
      }),
      mapping("7f00200000-7f00300000", "rw-p", "", { Rss: 900, Anonymous: 900 }),
    ].join("\n");
    expect(releasableMappings(smaps, EXE)).to.deep.equal([
      { start: 0x400000, end: 0xb6f000, rssKb: 4988 },
      { start: 0xb72000, end: 0x2601000, rssKb: 22004 },
    ]);
  });

  it("leaves a read-only mapping that holds a page of its own (relocations written at load)", () => {
    const smaps = [
      mapping("0d000000-0d100000", "r--p", EXE, { Rss: 800, Anonymous: 800, Private_Dirty: 800 }),
      mapping("0d100000-0d200000", "r--p", EXE, { Rss: 20, Private_Dirty: 4 }),
      mapping("0d200000-0d300000", "rw-p", EXE, { Rss: 0 }),
      mapping("0d300000-0d400000", "r--s", EXE, { Rss: 10 }),
    ].join("\n");
    expect(releasableMappings(smaps, EXE)).to.deep.equal([]);
  });

  it("ignores other files whose names start like the executable's", () => {
    const smaps = mapping("00400000-00500000", "r--p", `${EXE}.old`, { Rss: 10 });
    expect(releasableMappings(smaps, EXE)).to.deep.equal([]);
  });
});

describe("startup pages: given back in a real process", function () {
  this.timeout(20_000);

  it("shrinks the executable's resident pages and the process goes on working", () => {
    // A child process, so this one's pages are left alone; it reports its file-backed RSS before
    // and after, then runs code that needs pages given back (a crypto hash, JSON, a regexp).
    const script = `
      const fs = require("fs");
      const { releaseStartupPages } = require(${JSON.stringify(path.join(__dirname, "startup-pages.ts"))});
      const fileKb = () => Number(/RssFile:\\s+(\\d+)/.exec(fs.readFileSync("/proc/self/status", "latin1"))[1]);
      const before = fileKb();
      const released = releaseStartupPages();
      const after = fileKb();
      const hash = require("crypto").createHash("sha256").update("weft").digest("hex");
      const parsed = JSON.parse(JSON.stringify({ a: [1, 2, 3] }));
      const matched = /w(e)ft/.exec("weft")[1];
      process.stdout.write(JSON.stringify({ before, after, released, hash, parsed, matched }));
    `;
    const out = execFileSync(process.execPath, ["--require", "tsx/cjs", "-e", script], {
      encoding: "utf8",
    });
    const r = JSON.parse(out);
    expect(r.released.mappings, JSON.stringify(r.released)).to.be.greaterThan(0);
    expect(r.released.kb).to.be.greaterThan(1000);
    expect(r.after).to.be.below(r.before - 1000);
    expect(r.hash).to.equal(createHash("sha256").update("weft").digest("hex"));
    expect(r.parsed).to.deep.equal({ a: [1, 2, 3] });
    expect(r.matched).to.equal("e");
  });
});
