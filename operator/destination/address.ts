/** Conversions between textual IP addresses and the proxy API's `net.TcpAddress`. */
import { isIPv4, isIPv6 } from "node:net";
import type { TcpAddress } from "../../api/gen/net";

function ipv4ToNumber(ip: string): number {
  return ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0) >>> 0;
}

/** Expands `::`-compressed IPv6 text into eight hextets. */
function ipv6Hextets(ip: string): number[] {
  const [head, tail] = ip.includes("::") ? ip.split("::") : [ip, undefined];
  const parse = (s: string | undefined): number[] =>
    s ? s.split(":").map((h) => parseInt(h, 16)) : [];
  const h = parse(head);
  const t = parse(tail);
  const zeros = tail === undefined ? [] : new Array<number>(8 - h.length - t.length).fill(0);
  return [...h, ...zeros, ...t];
}

function hextetsToBigint(hextets: number[]): bigint {
  return hextets.reduce((acc, h) => (acc << 16n) | BigInt(h), 0n);
}

/** A TcpAddress for `ip` and `port`; throws a TypeError for text that is not an IP address. */
export function tcpAddress(ip: string, port: number): TcpAddress {
  if (isIPv4(ip)) return { ip: { ip: { $case: "ipv4", ipv4: ipv4ToNumber(ip) } }, port };
  if (isIPv6(ip)) {
    const hx = ipv6Hextets(ip);
    return {
      ip: {
        ip: {
          $case: "ipv6",
          ipv6: { first: hextetsToBigint(hx.slice(0, 4)), last: hextetsToBigint(hx.slice(4)) },
        },
      },
      port,
    };
  }
  throw new TypeError(`not an IP address: ${ip}`);
}

function bigintToHextets(v: bigint): string[] {
  const out: string[] = [];
  for (let i = 3; i >= 0; i--) out.push(((v >> BigInt(i * 16)) & 0xffffn).toString(16));
  return out;
}

/** The textual IP of a TcpAddress (`""` when absent). IPv6 is printed uncompressed. */
export function ipText(addr: TcpAddress | undefined): string {
  const ip = addr?.ip?.ip;
  if (!ip) return "";
  if (ip.$case === "ipv4") {
    const n = ip.ipv4 >>> 0;
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
  }
  return [...bigintToHextets(ip.ipv6.first), ...bigintToHextets(ip.ipv6.last)].join(":");
}

/** `ip:port` (IPv6 in brackets): the key under which an address is tracked. */
export function addressKey(addr: TcpAddress | undefined): string {
  const ip = ipText(addr);
  return ip.includes(":") ? `[${ip}]:${addr?.port ?? 0}` : `${ip}:${addr?.port ?? 0}`;
}
