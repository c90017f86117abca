// Errors of the injector, each with a stable code and what the user needs to fix it.

export class InvalidAnnotationError extends Error {
  readonly code = "WEFT_ERR_INVALID_ANNOTATION";

  constructor(
    readonly annotation: string,
    readonly value: string,
    readonly expected: string,
  ) {
    super(`${annotation}: "${value}" is not valid (expected ${expected})`);
    this.name = "InvalidAnnotationError";
  }
}
