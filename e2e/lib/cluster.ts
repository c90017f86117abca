// Helpers for end-to-end suites: find the cluster (KUBECONFIG, kubectl), run kubectl with
// bounded time, and wait for conditions without ever waiting forever.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";

export const repoRoot = path.resolve(__dirname, "..", "..");

/** The kubeconfig to use: $KUBECONFIG, else the one `make cluster-up` writes. */
export function kubeconfigPath(): string {
  return process.env.KUBECONFIG || path.join(repoRoot, ".cluster", "kubeconfig");
}

/** kubectl built with the cluster (same version), else $KUBECTL, else the one on PATH. */
export function kubectlPath(): string {
  if (process.env.KUBECTL) return process.env.KUBECTL;
  const local = path.join(repoRoot, ".cluster", "bin", "kubectl");
  return existsSync(local) ? local : "kubectl";
}

/** The Kubernetes version hack/go/kubernetes pins, e.g. "v1.33.13". */
export function pinnedKubernetesVersion(): string {
  const mod = readFileSync(path.join(repoRoot, "hack", "go", "kubernetes", "go.mod"), "utf8");
  const match = /^require k8s\.io\/kubernetes (v\S+)$/m.exec(mod);
  if (!match) throw new Error("hack/go/kubernetes/go.mod does not require k8s.io/kubernetes");
  return match[1];
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
}

/** Runs kubectl against the cluster; resolves with its output whatever the exit code. */
export function kubectl(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(kubectlPath(), ["--kubeconfig", kubeconfigPath(), ...args], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // kubectl may exit before reading its input (a fast failure): its exit code tells, not EPIPE.
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
  });
}

/** Runs kubectl and returns stdout; throws with kubectl's stderr if it fails. */
export async function kubectlOk(args: string[], options: RunOptions = {}): Promise<string> {
  const result = await kubectl(args, options);
  if (result.code !== 0) {
    throw new Error(`kubectl ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** kubectl apply -f - of a YAML or JSON document. */
export function apply(manifest: string, namespace?: string): Promise<string> {
  const ns = namespace ? ["-n", namespace] : [];
  return kubectlOk([...ns, "apply", "-f", "-"], { input: manifest });
}

/** kubectl get ... -o json, parsed. */
export async function getJson<T = any>(args: string[]): Promise<T> {
  return JSON.parse(await kubectlOk(["get", ...args, "-o", "json"])) as T;
}

/** Polls check every intervalMs until it returns a value other than undefined, or times out. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  const detail = lastError instanceof Error ? `: ${lastError.message}` : "";
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${detail}`);
}

/** A fresh namespace with a random suffix, so runs never collide. */
export async function createNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString("hex")}`;
  await kubectlOk(["create", "namespace", name]);
  await waitFor("the default service account", async () => {
    const r = await kubectl(["-n", name, "get", "serviceaccount", "default"]);
    return r.code === 0 ? true : undefined;
  });
  return name;
}

/** Starts a long-running kubectl (port-forward, logs -f); the caller kills it. */
export function kubectlBackground(args: string[]): ChildProcess {
  return spawn(kubectlPath(), ["--kubeconfig", kubeconfigPath(), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Waits until a background process prints a line matching pattern; returns the match. */
export function waitForOutput(
  child: ChildProcess,
  pattern: RegExp,
  timeoutMs = 30_000,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(
      () => reject(new Error(`no output matching ${pattern} in ${timeoutMs} ms: ${seen}`)),
      timeoutMs,
    );
    const onData = (d: Buffer): void => {
      seen += d.toString();
      const match = pattern.exec(seen);
      if (!match) return;
      clearTimeout(timer);
      resolve(match);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`kubectl exited ${code} before printing ${pattern}: ${seen}`));
    });
  });
}
