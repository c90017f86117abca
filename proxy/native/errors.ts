/** Why the proxy cannot read original destinations; the message says how to fix it. */
export class NativeAddonError extends Error {
  readonly code = "WEFT_ERR_NATIVE_ADDON";

  constructor(message: string) {
    super(message);
    this.name = "NativeAddonError";
  }
}
