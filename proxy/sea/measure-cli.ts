// Starts a proxy binary N times (median; also the minimum, the least disturbed by a busy host) with nothing but PATH=/nonexistent in its environment and prints
// the median start-up to /live and idle memory as JSON. Run it inside a network namespace so the
// proxy's fixed ports are free: `ip netns exec <ns> node --require tsx/cjs measure-cli.ts BIN [N]`.
import { measureStart, median, type StartFigures } from "./measure";

const ENV = { PATH: "/nonexistent", WEFT_PROXY_IDENTITY_DISABLED: "true", WEFT_PROXY_LOG: "warn" };

async function main(): Promise<void> {
  const [bin, n = "5"] = process.argv.slice(2);
  const runs: StartFigures[] = [];
  for (let i = 0; i < Math.min(Number(n), 20); i++) {
    const { child, figures } = await measureStart([bin], ENV, { host: "127.0.0.1", port: 4191 });
    runs.push(figures);
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  }
  const pick = (k: keyof StartFigures): number => median(runs.map((r) => r[k]));
  const minStartMs = Math.min(...runs.map((r) => r.startMs));
  const figures = { startMs: pick("startMs"), minStartMs, startCpuMs: pick("startCpuMs") };
  const memory = { rssKb: pick("rssKb"), rssAnonKb: pick("rssAnonKb") };
  process.stdout.write(JSON.stringify({ ...figures, ...memory, runs }) + "\n");
}

void main();
