// The operator's own admission timing, finer than anything Pepr or the API server reports: the API
// server's webhook histogram has no bucket between 5 and 25 ms, Pepr's request log counts whole
// ms (and is off at our log level), and Pepr 1.1.4's pepr_mutate summary never records. Two
// histograms with sub-millisecond buckets, served on the admission pods' /metrics next to Pepr's:
//   weft_admission_review_duration_seconds{kind,operation}: Pepr's processing of one
//     AdmissionReview, mutating or validating, from its before hook to its after hook (decode and
//     clone of the object, every matching action, the JSON patch); not TLS, body parsing or
//     writing the response.
//   weft_injector_mutate_duration_seconds: the injector's own handler inside that.

import { performance } from "node:perf_hooks";
import { Histogram, Registry } from "prom-client";

/** Seconds: 0.5 ms to 25 ms, dense around the 10 ms target. */
export const ADMISSION_BUCKETS = [
  0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1,
];

/** Reviews begun but never finished (Pepr threw before its after hook) are forgotten past this. */
const MAX_IN_FLIGHT = 1000;

export interface AdmissionTiming {
  registry: Registry;
  /** Pepr's before hook: the review starts. */
  before(req: ReviewRequest): void;
  /** Pepr's after hook: its response is ready (called once per response; the first counts). */
  after(res: { uid: string }): void;
  /** Runs the injector's handler and records how long it took, whether it resolved or threw. */
  timeMutate<T>(handler: () => Promise<T>): Promise<T>;
}

export interface ReviewRequest {
  uid: string;
  kind?: { kind?: string };
  operation?: string;
}

type Labels = { kind: string; operation: string };

export function admissionTiming(now: () => number = () => performance.now()): AdmissionTiming {
  const registry = new Registry();
  const review = new Histogram({
    name: "weft_admission_review_duration_seconds",
    help: "Pepr's processing of one AdmissionReview in the Weft module (decode, actions, JSON patch), from its before hook to its after hook.",
    labelNames: ["kind", "operation"],
    buckets: ADMISSION_BUCKETS,
    registers: [registry],
  });
  const mutate = new Histogram({
    name: "weft_injector_mutate_duration_seconds",
    help: "The injector's mutate handler for one Pod (namespace and Mesh context from memory, decision, patch).",
    buckets: ADMISSION_BUCKETS,
    registers: [registry],
  });
  const started = new Map<string, { at: number; labels: Labels }>();
  return {
    registry,
    before(req) {
      if (started.size >= MAX_IN_FLIGHT) started.delete(started.keys().next().value as string);
      const labels = { kind: req.kind?.kind ?? "", operation: req.operation ?? "" };
      started.set(req.uid, { at: now(), labels });
    },
    after(res) {
      const s = started.get(res.uid);
      if (!s) return;
      started.delete(res.uid);
      review.observe(s.labels, (now() - s.at) / 1000);
    },
    async timeMutate(handler) {
      const at = now();
      try {
        return await handler();
      } finally {
        mutate.observe((now() - at) / 1000);
      }
    },
  };
}

/** Pepr serves its own registry on /metrics: ours is appended to what it returns. */
export function serveWithPepr(
  collector: { getMetrics: () => Promise<string> },
  registry: Registry,
): void {
  const pepr = collector.getMetrics;
  collector.getMetrics = async (): Promise<string> => {
    const [theirs, ours] = await Promise.all([pepr(), registry.metrics()]);
    return theirs.endsWith("\n") || theirs === "" ? theirs + ours : `${theirs}\n${ours}`;
  };
}
