// prom-client's Registry, Counter and Gauge, loaded without its index: the index also loads the
// pushgateway (https, zlib), cluster aggregation (cluster, worker) and default process metrics,
// which the proxy does not use and which cost every proxy about 7 MB of RSS (3.7 MB anonymous),
// measured against a bare node. The classes are the same ones the index exports.
import type * as Prom from "prom-client";

/* eslint-disable @typescript-eslint/no-require-imports */
export const Registry = require("prom-client/lib/registry") as typeof Prom.Registry;
export const Counter = require("prom-client/lib/counter") as typeof Prom.Counter;
export const Gauge = require("prom-client/lib/gauge") as typeof Prom.Gauge;
/* eslint-enable @typescript-eslint/no-require-imports */

export type Registry = Prom.Registry;
export type Counter<T extends string = string> = Prom.Counter<T>;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export type Metric = Prom.Metric;
