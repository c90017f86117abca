/**
 * L4 balancing for opaque TCP: P2C where the load is connect latency (peak-EWMA) × (open
 * connections + 1). A failed connect backs the endpoint off and tries another, a bounded number
 * of times.
 */
import type * as net from "node:net";
import type { P2cBalancer, Slot } from "./p2c";

export interface L4Connection<E> {
  socket: net.Socket;
  slot: Slot<E>;
}

/** Connects to a balanced endpoint; the slot counts the connection until the socket closes. */
export async function connectBalanced<E>(
  balancer: P2cBalancer<E>,
  connect: (endpoint: E) => Promise<net.Socket>,
  maxAttempts = 3,
): Promise<L4Connection<E>> {
  let lastError: unknown;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const slot = await balancer.acquire();
    const inFlight = balancer.begin(slot);
    try {
      const socket = await connect(slot.endpoint);
      inFlight.end();
      balancer.connected(slot);
      slot.ewma.pending++;
      socket.once("close", () => slot.ewma.pending--);
      return { socket, slot };
    } catch (err) {
      inFlight.end();
      balancer.connectFailed(slot);
      lastError = err;
    }
  }
  throw lastError;
}
