// A stand-in for "the world outside this machine": a network namespace joined to the host by a
// veth pair, with an HTTP server in it and a route back. The host can reach it, so if a pod
// cannot, the cluster's FORWARD guard is what stopped it. Nothing here leaves the machine.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export interface OutsideHost {
  address: string;
  port: number;
  remove(): void;
}

const NETNS = "weft-e2e-outside";
const HOST_END = "weft-e2e-o0";
const NS_END = "weft-e2e-o1";
// A /30 that no cluster range or host route uses; the suite checks that before creating it.
const HOST_ADDR = "10.203.255.1";
const OUTSIDE_ADDR = "10.203.255.2";
const PORT = 18080;

function ip(...args: string[]): string {
  return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function quietly(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // already gone
  }
}

function removeLinks(server?: ChildProcess, webRoot?: string): void {
  server?.kill("SIGKILL");
  quietly(() => ip("link", "delete", HOST_END));
  quietly(() => ip("netns", "delete", NETNS));
  if (webRoot) rmSync(webRoot, { recursive: true, force: true });
}

/** True when this process may create network namespaces and nothing uses the /30 already. */
export function canCreateOutsideHost(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    return !ip("-4", "route", "show", "table", "all").includes("10.203.255.");
  } catch {
    return false;
  }
}

export function createOutsideHost(): OutsideHost {
  removeLinks();
  ip("netns", "add", NETNS);
  ip("link", "add", HOST_END, "type", "veth", "peer", "name", NS_END, "netns", NETNS);
  ip("addr", "add", `${HOST_ADDR}/30`, "dev", HOST_END);
  ip("link", "set", HOST_END, "up");
  ip("-n", NETNS, "addr", "add", `${OUTSIDE_ADDR}/30`, "dev", NS_END);
  ip("-n", NETNS, "link", "set", NS_END, "up");
  ip("-n", NETNS, "link", "set", "lo", "up");
  // A route back to anything, so only the guard can stop a forwarded pod packet.
  ip("-n", NETNS, "route", "add", "default", "via", HOST_ADDR);
  const webRoot = mkdtempSync(path.join(os.tmpdir(), "weft-e2e-outside-"));
  writeFileSync(path.join(webRoot, "index.html"), "outside\n");
  const server = spawn(
    "ip",
    [
      "netns",
      "exec",
      NETNS,
      "busybox",
      "httpd",
      "-f",
      "-p",
      `${OUTSIDE_ADDR}:${PORT}`,
      "-h",
      webRoot,
    ],
    { stdio: "ignore" },
  );
  return { address: OUTSIDE_ADDR, port: PORT, remove: () => removeLinks(server, webRoot) };
}

/** Packets dropped so far by the guard's "from the pod range" rule. */
export function guardDrops(podCidr: string): number {
  const rules = execFileSync("iptables", ["-w", "-t", "mangle", "-v", "-S", "WEFT-FORWARD"], {
    encoding: "utf8",
  });
  const line = rules
    .split("\n")
    .find((l) => l.includes(`-s ${podCidr} -c`) && l.endsWith("-j DROP"));
  if (!line) throw new Error(`no DROP rule for ${podCidr} in WEFT-FORWARD:\n${rules}`);
  return Number(/-c (\d+) /.exec(line)![1]);
}

/** The pod range hack/cluster configures (POD_CIDR in hack/cluster/lib.sh). */
export function localPodCidr(repoRoot: string): string {
  const lib = readFileSync(path.join(repoRoot, "hack", "cluster", "lib.sh"), "utf8");
  return /^POD_CIDR=(\S+)$/m.exec(lib)![1];
}
