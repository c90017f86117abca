import type { Runner } from "../init/apply";
import { runInit } from "../init/cli";
import { netnsSupport, removeStaleNamespaces, type Netns } from "./netns";

/**
 * A mocha `before` body: skips (saying why) only when the kernel lacks a feature, fails when the
 * machine is set up wrong (not root, tools missing).
 */
export async function requireNetns(ctx: Mocha.Context): Promise<void> {
  await removeStaleNamespaces();
  const s = await netnsSupport();
  if (s.ok) return;
  if (!s.kernel) throw new Error(`namespace tests cannot run: ${s.reason}`);
  console.log(`      skipped: the kernel lacks a feature (${s.reason})`);
  ctx.skip();
}

/** runInit with every iptables call made inside `ns`; returns exit code and output. */
export async function initIn(
  ns: Netns,
  argv: string[],
): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const run: Runner = (bin, args) => ns.exec(bin, args);
  const code = await runInit(argv, {
    env: {},
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    run,
  });
  return { code, out, err };
}
