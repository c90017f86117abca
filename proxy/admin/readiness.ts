// Readiness gates: /ready answers 200 only when every registered gate has said it is ready.
// Features register a gate at start (identity: "until the first certificate").

export interface ReadinessGate {
  ready(): void;
}

export class Readiness {
  private readonly pending = new Set<string>();
  private readonly names = new Set<string>();

  register(name: string): ReadinessGate {
    if (this.names.has(name)) throw new Error(`readiness gate ${name} is already registered`);
    this.names.add(name);
    this.pending.add(name);
    return { ready: () => void this.pending.delete(name) };
  }

  isReady(): boolean {
    return this.pending.size === 0;
  }

  /** Names of the gates still waiting, sorted. */
  waiting(): string[] {
    return [...this.pending].sort();
  }
}

/** The process-wide gates the proxy's /ready reports. */
export const readiness = new Readiness();

export function registerReadinessGate(name: string): ReadinessGate {
  return readiness.register(name);
}
