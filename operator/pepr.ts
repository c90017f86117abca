// The Weft operator as a Pepr module: `pepr build` and `pepr dev` start here (via hack/pepr.sh,
// which stages this entry next to the package.json Pepr expects).

import { metricsCollector, PeprModule } from "pepr";
import { collectDefaultMetrics } from "prom-client";
import cfg from "../package.json";
import { admissionTimes, Weft } from "./capabilities/operator";
import { serveWithPepr } from "./capabilities/timing";

// Our admission histograms on the admission pods' /metrics, after Pepr's own, with the process's
// CPU, GC pauses and event-loop lag (what an admission waits behind). Not while `pepr build`
// loads the module to list its bindings.
if (process.env.PEPR_MODE !== "build") collectDefaultMetrics({ register: admissionTimes.registry });
serveWithPepr(metricsCollector, admissionTimes.registry);

new PeprModule(cfg, [Weft], {
  beforeHook: (req) => admissionTimes.before(req),
  afterHook: (res) => admissionTimes.after(res),
});
