// Helpers for the proxy's loopback integration tests: a proxy whose listeners use ephemeral
// ports and whose connections go to a fixed target (no iptables), and small socket utilities.

import { createHash } from "node:crypto";
import * as http from "node:http";
import * as net from "node:net";
import { Readiness } from "./admin/readiness";
import { loadConfig, type Env } from "./config";
import { unavailable } from "./interception";
import { startProxy, type ProxyOptions, type RunningProxy } from "./proxy";
import { discoveryStack, type DiscoveryStack, type StackOptions } from "./routes/stack";
import type { ProxyConfig } from "./config";

export interface TestProxyOptions {
  /** Port on 127.0.0.1 that both listeners forward to. */
  readonly targetPort: number;
  readonly env?: Env;
  readonly options?: ProxyOptions;
}

export function testEnv(targetPort: number, env: Env = {}): Env {
  return {
    WEFT_PROXY_INBOUND_LISTEN_ADDR: "127.0.0.1:0",
    WEFT_PROXY_OUTBOUND_LISTEN_ADDR: "127.0.0.1:0",
    WEFT_PROXY_ADMIN_LISTEN_ADDR: "127.0.0.1:0",
    WEFT_PROXY_CONTROL_LISTEN_ADDR: "127.0.0.1:0",
    WEFT_PROXY_OUTBOUND_FIXED_TARGET: `127.0.0.1:${targetPort}`,
    WEFT_PROXY_INBOUND_FIXED_TARGET: `127.0.0.1:${targetPort}`,
    WEFT_PROXY_IDENTITY_DISABLED: "true",
    WEFT_PROXY_LOG: "off",
    ...env,
  };
}

export function startTestProxy(o: TestProxyOptions): Promise<RunningProxy> {
  return startProxy(loadConfig(testEnv(o.targetPort, o.env)), {
    readiness: new Readiness(),
    interception: unavailable("loopback test"),
    ...o.options,
  });
}

export function listenOn(server: net.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)),
  );
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    (server as net.Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    server.close(() => resolve());
  });
}

/** Connects, writes `data`, and collects everything until the peer closes or `until` matches. */
export function rawExchange(
  port: number,
  data: string | Buffer,
  until?: (text: string) => boolean,
  timeoutMs = 5000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    let text = "";
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`timed out; got ${JSON.stringify(text.slice(0, 500))}`));
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(text);
    };
    s.on("data", (d) => {
      text += d.toString("latin1");
      if (until?.(text)) done();
    });
    s.on("close", done);
    s.on("error", () => undefined);
    s.write(data);
  });
}

const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** A tiny WebSocket echo server on node builtins: handshake, then unmask and echo text frames. */
export function webSocketServer(): http.Server {
  const server = http.createServer((_req, res) => res.end());
  server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket) => {
    const accept = createHash("sha1")
      .update(`${req.headers["sec-websocket-key"]}${WS_GUID}`)
      .digest("base64");
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    let buf = Buffer.alloc(0);
    socket.on("end", () => socket.end());
    socket.on("error", () => socket.destroy());
    socket.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (let f = wsReadFrame(buf); f !== undefined; f = wsReadFrame(buf)) {
        buf = buf.subarray(f.size);
        socket.write(wsFrame(f.payload, false));
      }
    });
  });
  return server;
}

export function wsFrame(payload: Buffer, mask: boolean): Buffer {
  const len = payload.length;
  const header =
    len < 126
      ? Buffer.from([0x81, len | (mask ? 0x80 : 0)])
      : Buffer.from([0x81, 126 | (mask ? 0x80 : 0), len >> 8, len & 0xff]);
  if (!mask) return Buffer.concat([header, payload]);
  const key = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((b, i) => b ^ key[i % 4]));
  return Buffer.concat([header, key, masked]);
}

export function wsReadFrame(buf: Buffer): { payload: Buffer; size: number } | undefined {
  if (buf.length < 2) return undefined;
  const masked = (buf[1] & 0x80) !== 0;
  let len = buf[1] & 0x7f;
  let at = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    at = 4;
  }
  const keyAt = at;
  if (masked) at += 4;
  if (buf.length < at + len) return undefined;
  const payload = Buffer.from(buf.subarray(at, at + len));
  if (masked) for (let i = 0; i < len; i++) payload[i] ^= buf[keyAt + (i % 4)];
  return { payload, size: at + len };
}

/**
 * A loopback proxy whose outbound goes through discovery and the route layers, as `weft-proxy`
 * wires them when WEFT_PROXY_DESTINATION_SVC_ADDR is set (it must be, in `config`).
 */
export async function startDiscoveryProxy(
  config: ProxyConfig,
  opts: StackOptions,
): Promise<{ proxy: RunningProxy; stack: DiscoveryStack }> {
  const stack = discoveryStack(config, opts);
  if (!stack) throw new Error("startDiscoveryProxy: set WEFT_PROXY_DESTINATION_SVC_ADDR");
  const proxy = await startProxy(config, {
    tls: opts.tls,
    metrics: opts.metrics,
    resolver: stack.resolver,
    outboundHttp1: stack.outboundHttp1,
    readiness: new Readiness(),
    interception: unavailable("loopback test"),
  });
  return { proxy, stack };
}
