import type { Logger } from 'pino';

/** The one runtime call this scaler makes. */
export interface Scalable {
  setScale(app: string, replicas: number): Promise<void>;
}

/**
 * A stand-in until the KPA autoscaler lands (issue #5): wakes an app to one replica on
 * the activator's poke and never scales it down. Structurally a StatsSink.
 */
export class WakeOnlyScaler {
  readonly #runtime: Scalable;
  readonly #log: Logger;
  readonly #awake = new Set<string>();
  readonly #waking = new Set<string>();

  constructor(runtime: Scalable, log: Logger) {
    this.#runtime = runtime;
    this.#log = log.child({ component: 'autoscaler' });
  }

  report(): void {
    // Load reports matter once decisions do (issue #5).
  }

  poke(app: string): void {
    if (this.#awake.has(app) || this.#waking.has(app)) return;
    this.#waking.add(app);
    this.#runtime.setScale(app, 1).then(
      () => {
        this.#waking.delete(app);
        this.#awake.add(app);
        this.#log.info({ app }, 'woke app to 1 replica');
      },
      (error: unknown) => {
        // The activator pokes again every second while requests wait: the next poke retries.
        this.#waking.delete(app);
        this.#log.warn({ app, err: error }, 'cannot wake app');
      },
    );
  }
}
