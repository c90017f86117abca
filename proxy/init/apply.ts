import { execFile } from "node:child_process";
import { InitIptablesError } from "./errors";
import type { IptablesMode } from "./options";
import type { Family } from "./rules";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one program; never throws for a non-zero exit (the caller decides). */
export type Runner = (bin: string, args: string[]) => Promise<RunResult>;

export interface Tools {
  iptables: string;
  save: string;
}

/** The iptables binaries for a family and mode (`default` is whatever the system links). */
export function toolsFor(family: Family, mode: IptablesMode): Tools {
  const base = family === 6 ? "ip6tables" : "iptables";
  const suffix = mode === "default" ? "" : `-${mode}`;
  return { iptables: `${base}${suffix}`, save: `${base}${suffix}-save` };
}

export const execRunner: Runner = (bin, args) =>
  new Promise((resolve) => {
    execFile(bin, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      const code = e ? (typeof e.code === "number" ? e.code : 127) : 0;
      const why = e && typeof e.code === "string" ? `${e.code}: ${e.message}` : "";
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || why });
    });
  });

export function commandLine(bin: string, args: string[]): string {
  return [bin, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a}'`)).join(" ");
}

/** `iptables-save -t nat`; an absent nat table reads as empty. */
export async function readNat(run: Runner, tools: Tools): Promise<string> {
  const r = await run(tools.save, ["-t", "nat"]);
  if (r.code !== 0) throw new InitIptablesError(commandLine(tools.save, ["-t", "nat"]), r.stderr);
  return r.stdout;
}

/** Runs commands in order and stops at the first failure. `-w` waits for the xtables lock. */
export async function runAll(
  run: Runner,
  tools: Tools,
  commands: string[][],
  log: (line: string) => void,
): Promise<void> {
  for (const args of commands) {
    const full = ["-w", "5", ...args];
    log(commandLine(tools.iptables, args));
    const r = await run(tools.iptables, full);
    if (r.code !== 0) throw new InitIptablesError(commandLine(tools.iptables, args), r.stderr);
  }
}
