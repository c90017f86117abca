/**
 * A gRPC stream's own bounded queue. Messages are written as fast as the stream accepts them;
 * when the queue is full the stream is closed with RESOURCE_EXHAUSTED (the client reconnects and
 * gets a fresh snapshot), so a slow subscriber never holds up the watch or the other streams.
 */
import { status } from "@grpc/grpc-js";
import { SlowSubscriberError } from "./errors";
import type { Listener } from "./publishers";

/** The part of a grpc-js ServerWritableStream the queue uses. */
export interface WritableCall<T> {
  write(message: T): boolean;
  once(event: "drain", fn: () => void): unknown;
  emit(event: "error", err: unknown): boolean;
  end(): void;
}

export interface QueueEvents {
  /** The stream was closed because its queue overflowed. */
  overflow(): void;
}

export const DEFAULT_QUEUE_CAPACITY = 100;

export class StreamQueue<T> implements Listener<T> {
  private readonly queue: T[] = [];
  private waiting = false;
  private closed = false;

  constructor(
    private readonly call: WritableCall<T>,
    private readonly capacity: number,
    private readonly events: QueueEvents,
  ) {}

  get length(): number {
    return this.queue.length;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  update(message: T): void {
    if (this.closed) return;
    if (this.queue.length >= this.capacity) {
      this.fail(new SlowSubscriberError(this.capacity));
      this.events.overflow();
      return;
    }
    this.queue.push(message);
    if (!this.waiting) this.drain();
  }

  /** Ends the stream with OK (e.g. the server is shutting down). */
  close(_reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.call.end();
  }

  /** The client went away: drop what is queued. */
  cancel(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private fail(err: SlowSubscriberError): void {
    this.closed = true;
    this.queue.length = 0;
    this.call.emit("error", {
      code: status.RESOURCE_EXHAUSTED,
      details: `${err.code}: ${err.message}`,
    });
  }

  private drain(): void {
    while (this.queue.length > 0 && !this.closed) {
      const message = this.queue.shift() as T;
      if (!this.call.write(message)) {
        this.waiting = true;
        this.call.once("drain", () => {
          this.waiting = false;
          this.drain();
        });
        return;
      }
    }
  }
}
