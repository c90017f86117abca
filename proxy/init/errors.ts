/** A flag or environment value that proxy-init cannot use; the message names each and its form. */
export class InitUsageError extends Error {
  readonly code = "WEFT_ERR_INIT_USAGE";

  constructor(readonly problems: string[]) {
    super(`weft-proxy init: ${problems.join("; ")}`);
    this.name = "InitUsageError";
  }
}

/** An iptables command failed; carries the command line and what the tool printed. */
export class InitIptablesError extends Error {
  readonly code = "WEFT_ERR_INIT_IPTABLES";

  constructor(
    readonly command: string,
    readonly stderr: string,
  ) {
    super(`weft-proxy init: '${command}' failed: ${stderr.trim() || "no output"}`);
    this.name = "InitIptablesError";
  }
}
