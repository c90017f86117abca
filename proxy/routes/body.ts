/** Request bodies up to 64 KiB are buffered so a retry can send them again. */
import { PassThrough, type Readable } from "node:stream";

export const MAX_REPLAY_BYTES = 64 * 1024;

export type CapturedBody =
  | { replayable: true; buffer: Buffer }
  | { replayable: false; stream: Readable };

/**
 * Reads `body` up to `limit` bytes. A body that ends within the limit is returned whole; a
 * longer one is returned as a stream of what was read followed by the rest (not replayable).
 */
export function captureBody(body: Readable, limit = MAX_REPLAY_BYTES): Promise<CapturedBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size <= limit) return;
      cleanup();
      body.pause();
      const out = new PassThrough();
      for (const c of chunks) out.write(c);
      body.pipe(out);
      resolve({ replayable: false, stream: out });
    };
    const onEnd = (): void => {
      cleanup();
      resolve({ replayable: true, buffer: Buffer.concat(chunks, size) });
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const cleanup = (): void => {
      body.off("data", onData);
      body.off("end", onEnd);
      body.off("error", onError);
    };
    body.on("data", onData);
    body.on("end", onEnd);
    body.on("error", onError);
  });
}
