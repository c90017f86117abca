/** Errors of the destination service. Each carries a stable code and what the caller can fix. */
export class DestinationError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "DestinationError";
  }
}

/** The path of a GetDestination is neither `<svc>.<ns>.svc.<domain>:<port>` nor `<ip>:<port>`. */
export class InvalidPathError extends DestinationError {
  constructor(path: string, why: string) {
    super(
      "WEFT_ERR_DEST_INVALID_PATH",
      `destination path ${JSON.stringify(path)} is invalid: ${why}; expected <svc>.<ns>.svc.<cluster-domain>:<port> or <ip>:<port>`,
    );
  }
}

/** A stream fell behind its bounded queue and was closed; the client reconnects for a fresh snapshot. */
export class SlowSubscriberError extends DestinationError {
  constructor(capacity: number) {
    super(
      "WEFT_ERR_DEST_SLOW_SUBSCRIBER",
      `the stream fell more than ${capacity} updates behind and was closed; reconnect to get a fresh snapshot`,
    );
  }
}

/** A command-line flag of `weft-controller destination` is malformed. */
export class DestinationFlagError extends DestinationError {
  constructor(flag: string, why: string) {
    super("WEFT_ERR_DEST_FLAG", `flag ${flag}: ${why}`);
  }
}
