import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { NativeAddonError } from "./errors";

/** The addon's surface: a positive result or a negative errno. */
export interface OriginalDstAddon {
  getOriginalDst(fd: number): [string, number, number] | number;
  /** madvise(MADV_DONTNEED) of [start, end): 0 or a negative errno (absent in an older build). */
  releasePages?(start: number, end: number): number;
}

export const ADDON_FILE = "original_dst.node";
/** The key under which proxy/sea/build.sh embeds the addon. */
export const SEA_ASSET_KEY = "original_dst.node";

/** Where a built addon may sit, nearest first: next to a bundle, the repo's dist/, the build dir. */
export function addonCandidates(dir: string = __dirname, execPath = process.execPath): string[] {
  const roots = [
    path.join(dir, "native", ADDON_FILE),
    path.join(dir, ADDON_FILE),
    path.resolve(dir, "../../dist/native", ADDON_FILE),
    path.join(path.dirname(execPath), "native", ADDON_FILE),
  ];
  return [...new Set(roots)];
}

function dlopen(file: string): OriginalDstAddon {
  const mod = { exports: {} as Partial<OriginalDstAddon> };
  process.dlopen(mod, file);
  if (typeof mod.exports.getOriginalDst !== "function") {
    throw new NativeAddonError(`${file} is not the original_dst addon (no getOriginalDst)`);
  }
  return mod.exports as OriginalDstAddon;
}

function seaAsset(): ArrayBuffer | undefined {
  try {
    // node:sea exists from Node 20.12; outside a SEA isSea() is false.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sea = require("node:sea") as typeof import("node:sea");
    return sea.isSea() ? sea.getAsset(SEA_ASSET_KEY) : undefined;
  } catch {
    return undefined;
  }
}

/** dlopen needs a file; the asset is written to a private temp dir that is removed after. */
function loadFromBytes(bytes: ArrayBuffer): OriginalDstAddon {
  const failures: string[] = [];
  for (const base of [os.tmpdir(), "/dev/shm"]) {
    let dir: string | undefined;
    try {
      dir = fs.mkdtempSync(path.join(base, "weft-native-"));
      const file = path.join(dir, ADDON_FILE);
      fs.writeFileSync(file, Buffer.from(bytes), { mode: 0o500 });
      return dlopen(file);
    } catch (err) {
      failures.push(`${base}: ${(err as Error).message}`);
    } finally {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  throw new NativeAddonError(`embedded addon could not be loaded (${failures.join("; ")})`);
}

function loadFromDisk(candidates: string[]): OriginalDstAddon {
  const failures: string[] = [];
  for (const file of candidates) {
    if (!fs.existsSync(file)) continue;
    try {
      return dlopen(file);
    } catch (err) {
      failures.push(`${file}: ${(err as Error).message}`);
    }
  }
  const tried = failures.length > 0 ? failures.join("; ") : `not found in ${candidates.join(", ")}`;
  throw new NativeAddonError(
    `the SO_ORIGINAL_DST addon (${ADDON_FILE}) is unavailable: ${tried}; ` +
      "build it with proxy/native/build.sh or use the dist/weft-proxy binary",
  );
}

/** The embedded SEA asset first, then files on disk. Throws NativeAddonError with the reason. */
export function loadAddon(candidates: string[] = addonCandidates()): OriginalDstAddon {
  if (process.platform !== "linux") {
    throw new NativeAddonError(`SO_ORIGINAL_DST is Linux-only (platform ${process.platform})`);
  }
  const asset = seaAsset();
  return asset ? loadFromBytes(asset) : loadFromDisk(candidates);
}
