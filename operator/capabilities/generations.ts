// Which watch events change an object's spec: its metadata.generation moves on spec changes and
// deletion, not on status updates (the Mesh reconciler writes status on every resync). Pure.

export class Generations {
  #seen = new Map<string, number | undefined>();

  /** Records the event; true when it is news: first sight, a new generation, or a deletion. */
  changed(name: string, generation: number | undefined, deleted: boolean): boolean {
    if (deleted) {
      this.#seen.delete(name);
      return true;
    }
    if (this.#seen.has(name) && this.#seen.get(name) === generation) return false;
    this.#seen.set(name, generation);
    return true;
  }
}
