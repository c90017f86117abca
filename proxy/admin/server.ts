// The admin server (4191): liveness, readiness, Prometheus metrics, the log level and, when
// enabled, a localhost-only shutdown. Requests are decided by adminRoute, a pure function.

import * as http from "node:http";
import type { Logger } from "../log";
import type { ProxyMetrics } from "../metrics/metrics";
import type { Readiness } from "./readiness";

export interface AdminRequest {
  readonly method: string;
  readonly path: string;
  readonly local: boolean;
}

export interface AdminState {
  readonly ready: boolean;
  readonly waiting: readonly string[];
  readonly draining: boolean;
  readonly shutdownEnabled: boolean;
}

export type AdminAction =
  | { readonly kind: "text"; readonly status: number; readonly body: string }
  | { readonly kind: "metrics" | "get-log-level" | "set-log-level" | "shutdown" };

const text = (status: number, body: string): AdminAction => ({ kind: "text", status, body });

export function adminRoute(req: AdminRequest, state: AdminState): AdminAction {
  switch (req.path) {
    case "/live":
      return req.method === "GET" || req.method === "HEAD"
        ? text(200, "live\n")
        : text(405, "method not allowed\n");
    case "/ready":
      return readyRoute(req, state);
    case "/metrics":
      return req.method === "GET" ? { kind: "metrics" } : text(405, "method not allowed\n");
    case "/proxy-log-level":
      return logLevelRoute(req);
    case "/shutdown":
      return shutdownRoute(req, state);
    default:
      return text(404, "not found\n");
  }
}

function readyRoute(req: AdminRequest, state: AdminState): AdminAction {
  if (req.method !== "GET" && req.method !== "HEAD") return text(405, "method not allowed\n");
  if (state.draining) return text(503, "draining\n");
  return state.ready
    ? text(200, "ready\n")
    : text(503, `not ready: waiting for ${state.waiting.join(", ")}\n`);
}

function logLevelRoute(req: AdminRequest): AdminAction {
  if (!req.local) return text(403, "the log level can only be read or changed from localhost\n");
  if (req.method === "GET") return { kind: "get-log-level" };
  if (req.method === "PUT") return { kind: "set-log-level" };
  return text(405, "method not allowed\n");
}

function shutdownRoute(req: AdminRequest, state: AdminState): AdminAction {
  if (req.method !== "POST") return text(405, "method not allowed\n");
  if (!state.shutdownEnabled) return text(404, "shutdown endpoint is not enabled\n");
  if (!req.local) return text(403, "shutdown is only accepted from localhost\n");
  return { kind: "shutdown" };
}

export function isLoopback(address: string | undefined): boolean {
  return address === "127.0.0.1" || address === "::1" || address === "::ffff:127.0.0.1";
}

export interface AdminDeps {
  readonly readiness: Readiness;
  readonly metrics: ProxyMetrics;
  readonly log: Logger;
  readonly shutdownEnabled: boolean;
  readonly draining: () => boolean;
  readonly shutdown: () => void;
}

export function createAdminServer(deps: AdminDeps): http.Server {
  return http.createServer((req, res) => {
    const action = adminRoute(
      {
        method: req.method ?? "GET",
        path: (req.url ?? "/").split("?")[0],
        local: isLoopback(req.socket.remoteAddress),
      },
      {
        ready: deps.readiness.isReady(),
        waiting: deps.readiness.waiting(),
        draining: deps.draining(),
        shutdownEnabled: deps.shutdownEnabled,
      },
    );
    perform(action, req, res, deps);
  });
}

function reply(res: http.ServerResponse, status: number, body: string, type = "text/plain"): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function perform(
  action: AdminAction,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  deps: AdminDeps,
): void {
  switch (action.kind) {
    case "text":
      return reply(res, action.status, action.body);
    case "metrics":
      deps.metrics.registry.metrics().then(
        (body) => reply(res, 200, body, deps.metrics.registry.contentType),
        (err: unknown) => reply(res, 500, `${String(err)}\n`),
      );
      return;
    case "get-log-level":
      return reply(res, 200, `${deps.log.level}\n`);
    case "set-log-level":
      return setLogLevel(req, res, deps.log);
    case "shutdown":
      reply(res, 202, "shutdown\n");
      setImmediate(deps.shutdown);
  }
}

function setLogLevel(req: http.IncomingMessage, res: http.ServerResponse, log: Logger): void {
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (d: string) => (body += d.length + body.length > 4096 ? "" : d));
  req.on("end", () => {
    if (log.setLevelText(body.trim())) reply(res, 204, "");
    else reply(res, 400, `invalid log level ${JSON.stringify(body.trim())}\n`);
  });
}
