/**
 * Hands an accepted outbound HTTP/1 connection (after protocol detection has read its first
 * bytes) to OutboundHttp, so a listener can serve it with per-request routing, retries,
 * timeouts and balancing instead of one endpoint per connection.
 */
import * as http from "node:http";
import type { Socket } from "node:net";
import { ProxyError, http1ErrorResponse } from "../errors";
import type { OriginalDst, OutboundHttp } from "./http";

export type ConnectionHandler = (socket: Socket, initial: Buffer, dst: OriginalDst) => void;

export function outboundHttpConnections(outbound: OutboundHttp): ConnectionHandler {
  const dsts = new WeakMap<Socket, OriginalDst>();
  const server = http.createServer({ keepAliveTimeout: 5000 }, (req, res) => {
    const dst = dsts.get(req.socket);
    if (!dst)
      return void res.writeHead(502, { "l5d-proxy-error": "original destination unknown" }).end();
    outbound.handle(req, res, dst).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(502, { "l5d-proxy-error": String(err) });
      res.end();
    });
  });
  // Without this the HTTP server would drop upgrades (WebSocket) instead of relaying them.
  server.on("upgrade", (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    const dst = dsts.get(socket);
    if (!dst) return void socket.destroy();
    outbound.upgrade(req, socket, head, dst).catch((err: unknown) => {
      const e = new ProxyError("WEFT_ERR_NO_ROUTE", String((err as Error).message), err);
      socket.end(http1ErrorResponse(e, true));
    });
  });
  return (socket, initial, dst) => {
    dsts.set(socket, dst);
    if (initial.length > 0) socket.unshift(initial);
    server.emit("connection", socket);
    // Protocol detection leaves the socket paused; the HTTP server only reads a flowing one.
    socket.resume();
  };
}
