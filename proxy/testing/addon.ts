import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "../..");
export const ADDON_PATH = path.join(REPO_ROOT, "dist/native/original_dst.node");

/** Builds the SO_ORIGINAL_DST addon when it is missing; returns its path. */
export function ensureAddon(): string {
  if (!fs.existsSync(ADDON_PATH)) {
    execFileSync("bash", [path.join(REPO_ROOT, "proxy/native/build.sh"), ADDON_PATH], {
      stdio: ["ignore", "ignore", "inherit"],
    });
  }
  return ADDON_PATH;
}

/** argv for running a TypeScript file with this Node through tsx (as mocha does). */
export function tsNode(file: string, ...args: string[]): [string, string[]] {
  return [process.execPath, ["--require", require.resolve("tsx/cjs"), file, ...args]];
}
