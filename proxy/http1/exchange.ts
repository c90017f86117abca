// The per-request seam of the HTTP/1 engine. A route layer (discovery, profiles, balancing)
// decides where each attempt of a request goes and whether a failed attempt is tried again; the
// engine only moves bytes, keeps what it needs to send the request again, and enforces the
// deadline. Without a router, a connection's requests all go to the endpoint resolved for it.

import type { ProxyError } from "../errors";
import { endpointKey, type Endpoint } from "../route/resolver";
import type { Head } from "./head";

/**
 * Request bodies up to this size are kept while they are sent, so a failed attempt can be sent
 * again (HTTP/1 here, HTTP/2 in the route layer's ReplayBody).
 */
export const REPLAY_LIMIT = 64 * 1024;

/** Where one attempt goes: the endpoint, and the pool key of its connections. */
export interface Attempt {
  readonly endpoint: Endpoint;
  readonly key: string;
}

/** One request's way through a route layer. After `failed`, or a forwarded response, it is done. */
export interface Exchange {
  /** Time for the response head to arrive, from the start of the request, ms; undefined: none. */
  readonly timeoutMs: number | undefined;
  /** The next attempt's endpoint (balanced), or the error to answer with. */
  next(): Promise<Attempt | ProxyError>;
  /**
   * An attempt's response head arrived. True: it is discarded and the request is sent again
   * (only asked to when `replayable`); false: it is forwarded, and the exchange is done.
   */
  retryResponse(status: number, replayable: boolean): boolean;
  /** An attempt failed before a response head (`connected`: its connection had been made). True: try again. */
  retryError(err: Error, connected: boolean, replayable: boolean): boolean;
  /** The proxy answered with `err`, or (undefined) the client went away first. */
  failed(err: ProxyError | undefined): void;
}

/** Starts a request's exchange once its head is read; a ProxyError answers it at once. */
export type RequestRouter = (head: Head) => Promise<Exchange | ProxyError>;

/** Resolves one request's endpoint by its authority (discovery and balancing per request). */
export type RequestResolver = (authority: string) => Promise<Endpoint | ProxyError>;

/** A resolver as a router: one attempt, no deadline, no retries. */
export function resolverRouter(resolve: RequestResolver): RequestRouter {
  return (head) => Promise.resolve(singleAttempt(() => resolve(head.host)));
}

function singleAttempt(resolve: () => Promise<Endpoint | ProxyError>): Exchange {
  return {
    timeoutMs: undefined,
    next: () =>
      resolve().then((ep) => ("address" in ep ? { endpoint: ep, key: endpointKey(ep) } : ep)),
    retryResponse: () => false,
    retryError: () => false,
    failed: () => undefined,
  };
}
