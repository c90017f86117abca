// Errors the proxy generates. Each has a stable code, the HTTP status it answers with, the text of
// the l5d-proxy-error header, and the gRPC status a gRPC client receives instead.

export type ProxyErrorCode =
  | "WEFT_ERR_CONNECT_REFUSED"
  | "WEFT_ERR_CONNECT_TIMEOUT"
  | "WEFT_ERR_UPSTREAM_RESET"
  | "WEFT_ERR_STREAM_REFUSED"
  | "WEFT_ERR_UPSTREAM_CLOSED"
  | "WEFT_ERR_NO_ROUTE"
  | "WEFT_ERR_FAILFAST"
  | "WEFT_ERR_LOADSHED"
  | "WEFT_ERR_DRAINING"
  | "WEFT_ERR_RESPONSE_TIMEOUT"
  | "WEFT_ERR_BAD_REQUEST"
  | "WEFT_ERR_HEAD_TOO_LARGE";

interface ErrorKind {
  readonly status: number;
  readonly reason: string;
  /** gRPC status code (14 UNAVAILABLE, 4 DEADLINE_EXCEEDED, 13 INTERNAL). */
  readonly grpcStatus: number;
  /** Value of the `error` metric label. */
  readonly label: string;
}

const KINDS: Readonly<Record<ProxyErrorCode, ErrorKind>> = {
  WEFT_ERR_CONNECT_REFUSED: {
    status: 502,
    reason: "connection refused",
    grpcStatus: 14,
    label: "connect",
  },
  WEFT_ERR_CONNECT_TIMEOUT: {
    status: 504,
    reason: "connect timed out",
    grpcStatus: 14,
    label: "connect_timeout",
  },
  WEFT_ERR_UPSTREAM_RESET: {
    status: 502,
    reason: "connection reset by upstream",
    grpcStatus: 14,
    label: "reset",
  },
  // An HTTP/2 stream the upstream did not process (REFUSED_STREAM, or above a GOAWAY's last
  // stream id): safe to send again, which the proxy does while it still has the body.
  WEFT_ERR_STREAM_REFUSED: {
    status: 502,
    reason: "stream refused by upstream",
    grpcStatus: 14,
    label: "refused",
  },
  WEFT_ERR_UPSTREAM_CLOSED: {
    status: 502,
    reason: "upstream closed the connection",
    grpcStatus: 14,
    label: "closed",
  },
  WEFT_ERR_NO_ROUTE: {
    status: 503,
    reason: "no route to the destination",
    grpcStatus: 14,
    label: "unroutable",
  },
  WEFT_ERR_FAILFAST: {
    status: 503,
    reason: "service unavailable",
    grpcStatus: 14,
    label: "failfast",
  },
  WEFT_ERR_LOADSHED: {
    status: 503,
    reason: "service unavailable",
    grpcStatus: 14,
    label: "loadshed",
  },
  WEFT_ERR_DRAINING: {
    status: 503,
    reason: "proxy is shutting down",
    grpcStatus: 14,
    label: "draining",
  },
  WEFT_ERR_RESPONSE_TIMEOUT: {
    status: 504,
    reason: "response timed out",
    grpcStatus: 4,
    label: "timeout",
  },
  WEFT_ERR_BAD_REQUEST: {
    status: 400,
    reason: "malformed request",
    grpcStatus: 13,
    label: "bad_request",
  },
  WEFT_ERR_HEAD_TOO_LARGE: {
    status: 431,
    reason: "request head too large",
    grpcStatus: 13,
    label: "bad_request",
  },
};

export class ProxyError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly grpcStatus: number;
  readonly label: string;

  constructor(
    readonly code: ProxyErrorCode,
    detail?: string,
    override readonly cause?: unknown,
  ) {
    const kind = KINDS[code];
    super(detail === undefined ? kind.reason : `${kind.reason}: ${detail}`);
    this.name = "ProxyError";
    this.status = kind.status;
    this.reason = kind.reason;
    this.grpcStatus = kind.grpcStatus;
    this.label = kind.label;
  }
}

const ERRNO_CODES: Readonly<Record<string, ProxyErrorCode>> = {
  ECONNREFUSED: "WEFT_ERR_CONNECT_REFUSED",
  EHOSTUNREACH: "WEFT_ERR_CONNECT_REFUSED",
  ENETUNREACH: "WEFT_ERR_CONNECT_REFUSED",
  EADDRNOTAVAIL: "WEFT_ERR_CONNECT_REFUSED",
  ENOTFOUND: "WEFT_ERR_NO_ROUTE",
  ETIMEDOUT: "WEFT_ERR_CONNECT_TIMEOUT",
  ECONNRESET: "WEFT_ERR_UPSTREAM_RESET",
  EPIPE: "WEFT_ERR_UPSTREAM_RESET",
};

/** Maps a socket error seen while talking to the upstream to the error the client is told. */
export function upstreamError(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err;
  const errno = (err as { code?: unknown } | null)?.code;
  const code = typeof errno === "string" ? ERRNO_CODES[errno] : undefined;
  return new ProxyError(
    code ?? "WEFT_ERR_UPSTREAM_RESET",
    typeof errno === "string" ? errno : undefined,
    err,
  );
}

/** The errno label of tcp_close_total, or undefined for a clean close. */
export function errnoOf(err: unknown): string | undefined {
  const errno = (err as { code?: unknown } | null)?.code;
  return typeof errno === "string" ? errno : undefined;
}

/** A complete HTTP/1.1 response for a proxy-generated error. */
export function http1ErrorResponse(err: ProxyError, close: boolean): Buffer {
  const reason = sanitize(err.message);
  const body = `${reason}\n`;
  return Buffer.from(
    `HTTP/1.1 ${err.status} ${STATUS_TEXT[err.status] ?? "Error"}\r\n` +
      `content-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `l5d-proxy-error: ${reason}\r\n` +
      (close ? "connection: close\r\n" : "") +
      `\r\n${body}`,
    "latin1",
  );
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: "Bad Request",
  431: "Request Header Fields Too Large",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** Header values must not carry control characters. */
export function sanitize(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, " ");
}
