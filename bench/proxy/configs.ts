// Configurations for the peers Weft is measured against. Every listener is on 127.0.0.1; every
// proxy is one single-threaded process, as a Weft proxy is.

/**
 * Every port the benchmark listens on, base .. base + 1510. Keep it below the ephemeral range
 * (32768+) so that no outgoing connection holds one of them.
 */
export function portsFrom(base: number) {
  return {
    backend: base + 80,
    backendH2: base + 81,
    weft: { out: base + 140, in: base + 143 },
    weftTls: { out: base + 150, in: base + 153 },
    haproxyTls: { out: base + 250, in: base + 253 },
    weftAdmin: base + 500,
    haproxy: { out: base + 240, in: base + 243 },
    nginx: { out: base + 340, in: base + 343 },
  };
}

export type Ports = ReturnType<typeof portsFrom>;

/** All ports a run binds, for checking they are free first (h2 hops are +50, spare listeners +1000). */
export function allPorts(p: Ports): number[] {
  const hops = [p.weft.out, p.weft.in, p.haproxy.out, p.haproxy.in, p.nginx.out, p.nginx.in];
  const tls = [p.weftTls.out, p.weftTls.in, p.haproxyTls.out, p.haproxyTls.in];
  // Weft admin/control ports: plaintext pairs +0..+7, mTLS pair +20..+23.
  const admin = [0, 1, 2, 3, 4, 5, 6, 7, 20, 21, 22, 23].map((i) => p.weftAdmin + i);
  return [
    p.backend,
    p.backendH2,
    ...hops,
    ...hops.map((x) => x + 50),
    ...tls,
    ...admin,
    ...admin.map((x) => x + 1000),
  ];
}

export const SMALL_BODY = "hello, world\n"; // 13 bytes

/** The application: nginx answering /13 and /16k from memory and the page cache. */
export function backendNginx(dir: string, PORTS: Ports): string {
  return `
worker_processes 1;
daemon off;
master_process off;
pid ${dir}/backend.pid;
error_log stderr error;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${PORTS.backend};
    listen 127.0.0.1:${PORTS.backendH2} http2;
    location = /13 { default_type text/plain; return 200 "${SMALL_BODY.trim()}\\n"; }
    location = /16k { default_type application/octet-stream; alias ${dir}/16k.bin; }
  }
}
`;
}

/** One hop of an nginx pair: listen, proxy to `upstream` over pooled HTTP/1.1 keep-alive. */
export function nginxHop(dir: string, name: string, listen: number, upstream: number): string {
  return `
worker_processes 1;
daemon off;
master_process off;
pid ${dir}/${name}.pid;
error_log stderr error;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/${name}-body; proxy_temp_path ${dir}/${name}-proxy;
  fastcgi_temp_path ${dir}/${name}-fcgi; uwsgi_temp_path ${dir}/${name}-uwsgi; scgi_temp_path ${dir}/${name}-scgi;
  upstream up { server 127.0.0.1:${upstream}; keepalive 256; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${listen};
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/** One hop of an HAProxy pair, HTTP mode, server-side connection reuse. */
export function haproxyHop(listen: number, upstream: number, h2: boolean): string {
  return `
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend f
  bind 127.0.0.1:${listen}${h2 ? " proto h2" : ""}
  default_backend b
backend b
  server s 127.0.0.1:${upstream}${h2 ? " proto h2" : ""}
`;
}

/** The identities (certificate DNS SANs) of the mTLS hops; the PKI issues one leaf for each. */
export const TLS_NAMES = {
  weftOut: "weft-out.bench.serviceaccount.identity.weft.local",
  weftIn: "weft-in.bench.serviceaccount.identity.weft.local",
  haproxyOut: "haproxy-out.bench.local",
  haproxyIn: "haproxy-in.bench.local",
} as const;

/**
 * One hop of an HAProxy pair with TLS between the hops, as Weft does it: the inbound terminates
 * TLS 1.3 and requires a client certificate from the bench CA; the outbound originates TLS 1.3
 * with its certificate and verifies the inbound's (name and chain). Server connections are
 * reused (http-reuse always), like Weft's pool. A stats socket counts handshakes.
 */
export function haproxyTlsHop(
  dir: string,
  side: "in" | "out",
  listen: number,
  upstream: number,
): string {
  const tls = "ssl-min-ver TLSv1.3";
  const bind =
    side === "in"
      ? `127.0.0.1:${listen} ssl crt ${dir}/${TLS_NAMES.haproxyIn}.pem ca-file ${dir}/ca.crt verify required ${tls}`
      : `127.0.0.1:${listen}`;
  const server =
    side === "in"
      ? `127.0.0.1:${upstream}`
      : `127.0.0.1:${upstream} ssl verify required ca-file ${dir}/ca.crt crt ${dir}/${TLS_NAMES.haproxyOut}.pem sni str(${TLS_NAMES.haproxyIn}) ${tls}`;
  return `
global
  nbthread 1
  maxconn 4096
  stats socket ${dir}/haproxy-tls-${side}.sock
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend f
  bind ${bind}
  default_backend b
backend b
  server s ${server}
`;
}

/** The bench-only mTLS hop's identity settings (bench/proxy/mtls-hop.ts). */
export function weftTlsEnv(dir: string, side: "in" | "out"): Record<string, string> {
  const name = side === "in" ? TLS_NAMES.weftIn : TLS_NAMES.weftOut;
  return {
    WEFT_PROXY_IDENTITY_DISABLED: "false",
    WEFT_BENCH_TLS_DIR: dir,
    WEFT_BENCH_TLS_NAME: name,
    ...(side === "out" ? { WEFT_BENCH_PEER_IDENTITY: TLS_NAMES.weftIn } : {}),
  };
}

/** One Weft proxy as a hop: `direction` listens on `listen` and sends everything to `upstream`. */
export function weftHopEnv(
  direction: "in" | "out",
  listen: number,
  upstream: number,
  admin: number,
): Record<string, string> {
  const spare = admin + 1000;
  const [used, unused] = direction === "out" ? ["OUTBOUND", "INBOUND"] : ["INBOUND", "OUTBOUND"];
  return {
    PATH: "/nonexistent",
    WEFT_PROXY_IDENTITY_DISABLED: "true",
    WEFT_PROXY_LOG: "error",
    [`WEFT_PROXY_${used}_LISTEN_ADDR`]: `127.0.0.1:${listen}`,
    [`WEFT_PROXY_${used}_FIXED_TARGET`]: `127.0.0.1:${upstream}`,
    [`WEFT_PROXY_${unused}_LISTEN_ADDR`]: `127.0.0.1:${spare}`,
    WEFT_PROXY_ADMIN_LISTEN_ADDR: `127.0.0.1:${admin}`,
    WEFT_PROXY_CONTROL_LISTEN_ADDR: `127.0.0.1:${admin + 1}`,
  };
}
