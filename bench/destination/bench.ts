// make bench → bench/destination: simulated proxies (grpc-js clients) against the destination
// service. N services × E endpoints × M subscribers over C client connections; reports the time
// from an EndpointSlice change to every subscriber receiving it (p50/p99/max), the service's RSS
// and CPU, and the balancer's cost per pick. Prints figures; asserts nothing.
//   node --require tsx/cjs bench/destination/bench.ts [--services N] [--endpoints E] [--subscribers M] [--connections C] [--rounds R]
import { fork, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { DestinationClient, type Update } from "../../api/gen/destination";
import { addressKey } from "../../operator/destination/address";
import {
  event,
  podObject,
  serviceObject,
  sliceObject,
  type FixtureEndpoint,
} from "../../operator/destination/fixtures";
import type { ClusterEvent } from "../../operator/destination/store";
import { P2cBalancer } from "../../proxy/balance/p2c";

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

const N = arg("services", 100);
const E = arg("endpoints", 10);
const M = arg("subscribers", 1000);
const C = arg("connections", 100);
const R = arg("rounds", 20);

const ip = (svc: number, ep: number): string => `10.${64 + (svc >> 8)}.${svc & 255}.${ep + 1}`;
const name = (svc: number): string => `svc-${svc}`;

function endpointsOf(svc: number, gen: number): FixtureEndpoint[] {
  return Array.from({ length: E }, (_, e) => ({
    ip: ip(svc, e === 0 ? 200 + (gen % 50) : e),
    pod: `${name(svc)}-${e === 0 ? `g${gen}` : e}`,
  }));
}

function populate(): ClusterEvent[] {
  const out: ClusterEvent[] = [];
  for (let s = 0; s < N; s++) {
    out.push(
      event(
        "Service",
        serviceObject("bench", name(s), [{ name: "http", port: 80, targetPort: 8080 }], {
          clusterIP: `10.96.${s >> 8}.${s & 255}`,
        }),
      ),
    );
    for (const ep of endpointsOf(s, 0))
      out.push(
        event("Pod", podObject("bench", ep.pod!, ep.ip, { meshed: true, deployment: name(s) })),
      );
    out.push(
      event(
        "EndpointSlice",
        sliceObject(
          "bench",
          `${name(s)}-a`,
          name(s),
          [{ name: "http", port: 8080 }],
          endpointsOf(s, 0),
        ),
      ),
    );
  }
  return out;
}

class Child {
  private waiters: ((m: { type: string } & Record<string, number>) => void)[] = [];
  constructor(readonly proc: ChildProcess) {
    proc.on("message", (m: { type: string } & Record<string, number>) => this.waiters.shift()?.(m));
  }
  next(): Promise<{ type: string } & Record<string, number>> {
    return new Promise((r) => this.waiters.push(r));
  }
  async request(m: object): Promise<{ type: string } & Record<string, number>> {
    const p = this.next();
    this.proc.send(m);
    return p;
  }
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const mb = (b: number): string => `${(b / 1048576).toFixed(1)} MB`;
const ms = (x: number): string => `${x.toFixed(2)} ms`;

interface Subscriber {
  svc: number;
  seen: Set<string>;
  onChange?: () => void;
}

function subscribe(clients: DestinationClient[], i: number, svc: number): Subscriber {
  const sub: Subscriber = { svc, seen: new Set() };
  const stream = clients[i % clients.length].get({
    scheme: "k8s",
    path: `${name(svc)}.bench.svc.cluster.local:80`,
    contextToken: "",
  });
  stream.on("data", (u: Update) => {
    const up = u.update;
    if (up?.$case === "add") for (const a of up.add.addrs) sub.seen.add(addressKey(a.addr));
    if (up?.$case === "remove") for (const a of up.remove.addrs) sub.seen.delete(addressKey(a));
    sub.onChange?.();
  });
  stream.on("error", () => undefined);
  return sub;
}

async function waitAll(
  subs: Subscriber[],
  pred: (s: Subscriber) => boolean,
  limitMs: number,
): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (subs.every(pred)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

/** One change to service `svc`; resolves with each subscriber's delay (ms) after the change was sent. */
async function change(
  child: Child,
  subs: Subscriber[],
  svc: number,
  gen: number,
): Promise<number[]> {
  const fresh = `${ip(svc, 200 + (gen % 50))}:8080`;
  const delays: number[] = [];
  const t0 = process.hrtime.bigint();
  const done = new Promise<void>((resolve) => {
    let pending = subs.length;
    for (const s of subs) {
      s.onChange = () => {
        if (!s.seen.has(fresh)) return;
        s.onChange = undefined;
        delays.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (--pending === 0) resolve();
      };
    }
  });
  const ev = event(
    "EndpointSlice",
    sliceObject(
      "bench",
      `${name(svc)}-a`,
      name(svc),
      [{ name: "http", port: 8080 }],
      endpointsOf(svc, gen),
    ),
    "MODIFIED",
  );
  child.proc.send({ type: "events", events: [ev], ack: false });
  await Promise.race([done, new Promise((r) => setTimeout(r, 10_000))]);
  return delays;
}

function balancerCost(): { nsPerPick: number } {
  const b = new P2cBalancer<number>("bench");
  b.update(Array.from({ length: E }, (_, i) => [`10.0.0.${i}:80`, i] as [string, number]));
  const n = 500_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) b.begin(b.pick()!).end();
  return { nsPerPick: Number(process.hrtime.bigint() - t0) / n };
}

async function main(): Promise<void> {
  console.log(
    `destination bench: ${N} services × ${E} endpoints, ${M} subscribers over ${C} connections, ${R} rounds`,
  );
  const proc = fork(path.join(__dirname, "server.ts"), [], {
    execArgv: ["--require", "tsx/cjs"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const child = new Child(proc);
  const ready = await child.next();
  const base = await child.request({ type: "stats" });
  const t0 = performance.now();
  await child.request({ type: "events", events: populate(), ack: true });
  const loaded = await child.request({ type: "stats" });
  console.log(
    `  populate ${N * (E + 2)} objects: ${ms(performance.now() - t0)}; RSS ${mb(base.rss)} → ${mb(loaded.rss)}`,
  );

  const clients = Array.from(
    { length: C },
    (_, i) =>
      new DestinationClient(`127.0.0.1:${ready.port}`, grpc.credentials.createInsecure(), {
        "grpc.use_local_subchannel_pool": 1,
        "grpc.primary_user_agent": `sim-${i}`,
      }),
  );
  // Spread: subscriber i watches service i mod N. Hot: every subscriber also watches service 0.
  const spread = Array.from({ length: M }, (_, i) => subscribe(clients, i, i % N));
  const hot = Array.from({ length: M }, (_, i) => subscribe(clients, i, 0));
  const all = [...spread, ...hot];
  const t1 = performance.now();
  const ok = await waitAll(all, (s) => s.seen.size === E, 60_000);
  const streams = await child.request({ type: "stats" });
  console.log(
    `  ${all.length} streams open with snapshots: ${ok ? ms(performance.now() - t1) : "TIMED OUT"}; RSS ${mb(streams.rss)}`,
  );

  const cpuBefore = streams.cpuUs;
  const hotDelays: number[] = [];
  const spreadDelays: number[] = [];
  const hotLast: number[] = [];
  for (let r = 1; r <= R; r++) {
    const d = await change(child, hot.concat(spread.filter((s) => s.svc === 0)), 0, r);
    hotDelays.push(...d);
    hotLast.push(Math.max(...d));
    const svc = 1 + (r % (N - 1));
    spreadDelays.push(
      ...(await change(
        child,
        spread.filter((s) => s.svc === svc),
        svc,
        r,
      )),
    );
  }
  const after = await child.request({ type: "stats" });
  console.log(
    `  change → ${M + M / N} subscribers of one service: p50 ${ms(pct(hotDelays, 50))}, p99 ${ms(pct(hotDelays, 99))}, last subscriber p50 ${ms(pct(hotLast, 50))} max ${ms(Math.max(...hotLast))}`,
  );
  console.log(
    `  change → ${M / N} subscribers of one service: p50 ${ms(pct(spreadDelays, 50))}, p99 ${ms(pct(spreadDelays, 99))}`,
  );
  console.log(
    `  destination CPU over ${2 * R} changes: ${((after.cpuUs - cpuBefore) / 1000).toFixed(1)} ms (${((after.cpuUs - cpuBefore) / 1000 / (2 * R)).toFixed(2)} ms per change); RSS ${mb(after.rss)}, heap ${mb(after.heapUsed)}`,
  );
  const bal = balancerCost();
  console.log(
    `  balancer: P2C pick + begin + end over ${E} endpoints: ${bal.nsPerPick.toFixed(0)} ns per request`,
  );
  console.log(
    `  targets (issue 6): ≤ 200 ms p99 propagation to 1,000 subscribers; ≤ 200 MB destination RSS at 1,000 pods`,
  );
  for (const c of clients) c.close();
  proc.send({ type: "stop" });
  await new Promise((r) => proc.once("exit", r));
}

void main();
