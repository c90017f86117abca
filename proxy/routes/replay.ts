/**
 * A streamed request body that can be sent again. It flows to the current attempt as it
 * arrives (a gRPC stream must not wait for its end) and, while it stays within 64 KiB, every
 * chunk is kept: a new attempt gets what was read so far, then the rest. A retry needs the
 * body complete (ended within the limit); a failover before anything reached a server only
 * needs it intact (nothing dropped yet).
 */
import type { Readable, Writable } from "node:stream";
import { REPLAY_LIMIT } from "../http1/exchange";

export class ReplayBody {
  private chunks: Buffer[] = [];
  private size = 0;
  private overflowed = false;
  private ended: boolean;
  private readonly noBody: boolean;
  private target: Writable | undefined;

  /** `ended`: the request had no body (END_STREAM on its headers); `source` is then not read. */
  constructor(
    private readonly source: Readable,
    ended: boolean,
    private readonly limit = REPLAY_LIMIT,
  ) {
    this.ended = ended;
    this.noBody = ended;
    if (ended) return;
    source.pause();
    source.on("data", (chunk: Buffer) => this.onData(chunk));
    source.once("end", () => this.onEnd());
  }

  /** The whole body is known and kept: a retry can send it again. */
  get complete(): boolean {
    return this.ended && !this.overflowed;
  }

  /** Everything read so far is kept: a new attempt can take over the stream. */
  get intact(): boolean {
    return !this.overflowed;
  }

  /** The request had no body: upstream requests are opened with END_STREAM. */
  get empty(): boolean {
    return this.noBody;
  }

  /** Sends the body to `target` (what is kept, then the rest); the previous target is let go. */
  attach(target: Writable): void {
    this.target = target;
    if (this.empty) return;
    for (const c of this.chunks) target.write(c);
    if (this.ended) target.end();
    else this.source.resume();
  }

  /** Stops feeding the current target (its attempt is over); reading pauses until the next one. */
  detach(): void {
    this.target = undefined;
    if (!this.ended) this.source.pause();
  }

  /** No attempt will follow (a response is being forwarded): what was kept is let go. */
  settle(): void {
    this.overflowed = true;
    this.chunks = [];
  }

  private onData(chunk: Buffer): void {
    if (!this.overflowed) {
      this.size += chunk.length;
      if (this.size > this.limit) {
        this.overflowed = true;
        this.chunks = [];
      } else this.chunks.push(chunk);
    }
    const target = this.target;
    if (target === undefined || target.destroyed) return;
    if (target.write(chunk)) return;
    this.source.pause();
    target.once("drain", () => {
      if (this.target === target) this.source.resume();
    });
  }

  private onEnd(): void {
    this.ended = true;
    this.target?.end();
  }
}
