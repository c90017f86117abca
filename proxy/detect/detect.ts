// Reads a connection's first bytes until classify() decides, or the detection timeout passes
// (then the stream is forwarded as opaque TCP, so a server-speaks-first protocol on an
// unlisted port waits at most the timeout rather than forever).

import type { Duplex } from "node:stream";
import { classify, type Protocol } from "./classify";

export interface Detected {
  readonly protocol: Protocol;
  /** The bytes read while detecting; the protocol handler consumes them first. */
  readonly initial: Buffer;
  readonly timedOut: boolean;
}

/**
 * Calls `done` once with the detected protocol, or with undefined when the client went away
 * before sending anything. Leaves the socket paused with no data listener attached.
 */
export function detectProtocol(
  socket: Duplex,
  timeoutMs: number,
  done: (detected: Detected | undefined) => void,
): void {
  let buf = Buffer.alloc(0);
  let finished = false;
  const finish = (protocol: Protocol | undefined, timedOut: boolean): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.removeListener("data", onData);
    socket.removeListener("end", onEnd);
    socket.removeListener("close", onEnd);
    socket.pause();
    done(protocol === undefined ? undefined : { protocol, initial: buf, timedOut });
  };
  const onData = (chunk: Buffer): void => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const d = classify(buf);
    if (d !== "more") finish(d, false);
  };
  const onEnd = (): void => finish(buf.length > 0 ? "opaque" : undefined, false);
  const timer = setTimeout(() => finish("opaque", true), timeoutMs);
  socket.on("data", onData);
  socket.once("end", onEnd);
  socket.once("close", onEnd);
  socket.resume();
}
