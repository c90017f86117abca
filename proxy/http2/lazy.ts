// node:http2 is loaded on its first use: a proxy that never sees HTTP/2 does not carry the module
// and nghttp2 in memory (about 1.4 MB of RSS, measured against a bare node).
import type * as Http2 from "node:http2";

let loaded: typeof Http2 | undefined;

export function http2Module(): typeof Http2 {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= require("node:http2") as typeof Http2;
  return loaded;
}

/** HTTP/2 error codes (RFC 9113 §7), known without loading the module. */
export const NGHTTP2_NO_ERROR = 0;
export const NGHTTP2_CANCEL = 8;
