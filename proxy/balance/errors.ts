/** Errors of the balancer, with stable codes; the HTTP layer turns them into responses. */
export class BalanceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The HTTP status the proxy answers with. */
    readonly httpStatus: number,
  ) {
    super(message);
    this.name = "BalanceError";
  }
}

/** No endpoint became ready within the failfast timeout (503 + l5d-proxy-error). */
export class FailFastError extends BalanceError {
  constructor(target: string, waitedMs: number) {
    super(
      "WEFT_ERR_FAILFAST",
      `no ready endpoint for ${target} within ${waitedMs} ms (service in fail-fast); check that its pods are running and ready`,
      503,
    );
  }
}

/** Discovery says the service has no endpoints at all. */
export class NoEndpointsError extends BalanceError {
  constructor(target: string) {
    super("WEFT_ERR_NO_ENDPOINTS", `${target} has no endpoints`, 503);
  }
}

/** Too many requests already wait for a ready endpoint: refused at once rather than queued. */
export class QueueFullError extends BalanceError {
  constructor(target: string, capacity: number) {
    super(
      "WEFT_ERR_QUEUE_FULL",
      `${capacity} requests already wait for a ready endpoint of ${target}; refused without queueing`,
      503,
    );
  }
}
