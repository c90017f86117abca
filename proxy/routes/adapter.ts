/**
 * Hands an accepted outbound HTTP/1 connection (after protocol detection has read its first
 * bytes) to OutboundHttp, so a listener can serve it with per-request routing, retries,
 * timeouts and balancing instead of one endpoint per connection.
 */
import * as http from "node:http";
import type { Socket } from "node:net";
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
  return (socket, initial, dst) => {
    dsts.set(socket, dst);
    if (initial.length > 0) socket.unshift(initial);
    server.emit("connection", socket);
    // Protocol detection leaves the socket paused; the HTTP server only reads a flowing one.
    socket.resume();
  };
}
