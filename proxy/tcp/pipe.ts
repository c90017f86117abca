// Joins two streams both ways with backpressure and half-close, and tears both down when either
// fails. Used for opaque TCP and for upgraded (WebSocket) HTTP/1 connections.

import type { Socket } from "node:net";

export function tunnel(a: Socket, b: Socket): void {
  const destroyBoth = (): void => {
    a.destroy();
    b.destroy();
  };
  a.pipe(b);
  b.pipe(a);
  a.on("error", destroyBoth);
  b.on("error", destroyBoth);
  // A full close on one side (not a half-close) ends the other too.
  a.on("close", () => b.destroySoon());
  b.on("close", () => a.destroySoon());
}
