/** Metrics of the destination service (its own prom-client registry). */
import { Counter, Gauge, Registry } from "prom-client";

export interface DestinationMetrics {
  registry: Registry;
  streams: Gauge<"rpc">;
  streamOverflows: Counter<"rpc">;
  watchEvents: Counter<"kind" | "phase">;
  publishers: Gauge<"rpc">;
  watchErrors: Counter<"kind">;
}

export function createMetrics(): DestinationMetrics {
  const registry = new Registry();
  return {
    registry,
    streams: new Gauge({
      name: "destination_streams",
      help: "Open gRPC streams",
      labelNames: ["rpc"],
      registers: [registry],
    }),
    streamOverflows: new Counter({
      name: "destination_stream_overflow_total",
      help: "Streams closed because their bounded queue overflowed (slow subscribers)",
      labelNames: ["rpc"],
      registers: [registry],
    }),
    watchEvents: new Counter({
      name: "destination_watch_events_total",
      help: "Kubernetes watch events applied",
      labelNames: ["kind", "phase"],
      registers: [registry],
    }),
    watchErrors: new Counter({
      name: "destination_watch_errors_total",
      help: "Watch events that could not be applied",
      labelNames: ["kind"],
      registers: [registry],
    }),
    publishers: new Gauge({
      name: "destination_publishers",
      help: "Publishers (one per looked-up target) with at least one subscriber",
      labelNames: ["rpc"],
      registers: [registry],
    }),
  };
}
