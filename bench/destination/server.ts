// The destination service under benchmark, in its own process so its RSS and CPU are its own.
// Its watch edge is an in-memory feed driven over IPC by bench.ts.
import { DEFAULT_OPTIONS, startDestination } from "../../operator/destination/main";
import type { ClusterEvent } from "../../operator/destination/store";
import { FeedWatchSource } from "../../operator/destination/watch";

type Message =
  | { type: "events"; events: ClusterEvent[]; ack: boolean }
  | { type: "stats" }
  | { type: "stop" };

async function main(): Promise<void> {
  const feed = new FeedWatchSource();
  const dest = await startDestination(
    { ...DEFAULT_OPTIONS, addr: "127.0.0.1:0", queueCapacity: 1000 },
    feed,
  );
  const send = (m: object): void => void process.send?.(m);
  process.on("message", (m: Message) => {
    if (m.type === "events") {
      for (const e of m.events) feed.push(e);
      if (m.ack) send({ type: "applied", count: m.events.length });
    } else if (m.type === "stats") {
      const cpu = process.cpuUsage();
      send({
        type: "stats",
        rss: process.memoryUsage().rss,
        heapUsed: process.memoryUsage().heapUsed,
        cpuUs: cpu.user + cpu.system,
      });
    } else {
      void dest.stop().then(() => process.exit(0));
    }
  });
  send({ type: "ready", port: dest.port });
}

void main();
