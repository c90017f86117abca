// A value loaded on demand and served from memory. Once loaded, an expired value is still served
// while a single background load replaces it, so no admission request waits on the API server
// for it (a refresh on the request path put one request in a hundred 5–20 ms behind at 50 pods/s).
// `invalidate()` starts that background load at once: a watch that sees the inputs change calls
// it, so the value follows them within one load instead of one ttl.

export type Loader<T> = () => Promise<T>;

export interface Cached<T> {
  (): Promise<T>;
  /** The inputs changed: reload in the background now (the old value is served meanwhile). */
  invalidate(): void;
}

/**
 * `ttlMs(value)` says how long a value stays fresh; 0 means it must not be served at all again
 * (e.g. the Mesh has no trust anchors yet), so the next call waits for a new load. A failed
 * background load keeps the old value; a failed first load is the caller's error.
 */
export function cached<T>(
  ttlMs: number | ((v: T) => number),
  load: Loader<T>,
  now: () => number = Date.now,
): Cached<T> {
  const ttlOf = (v: T): number => (typeof ttlMs === "number" ? ttlMs : ttlMs(v));
  let current: { at: number; value: T; ttl: number } | undefined;
  let pending: Promise<T> | undefined;
  /** Set when invalidated during a load: that load may have read the old inputs. */
  let again = false;
  const refresh = (): Promise<T> =>
    (pending ??= load()
      .then((value) => {
        current = { at: now(), value, ttl: ttlOf(value) };
        return value;
      })
      .finally(() => {
        pending = undefined;
        if (again) {
          again = false;
          refresh().catch(() => undefined);
        }
      }));
  const get = (): Promise<T> => {
    if (!current || current.ttl <= 0) return refresh();
    if (now() - current.at > current.ttl) refresh().catch(() => undefined);
    return Promise.resolve(current.value);
  };
  return Object.assign(get, {
    invalidate(): void {
      if (!current) return; // nothing served yet: the first call loads anyway
      if (pending) again = true;
      else refresh().catch(() => undefined);
    },
  });
}
