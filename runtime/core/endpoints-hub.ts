import type { Endpoint } from '../runtime.js';
import { LatestValue } from './latest-value.js';

/**
 * The ready-endpoints hub both executors publish to and the activator (and the autoscaler)
 * read from: each subscriber gets the app's current endpoints at once, then the newest
 * snapshot after every change; a slow reader skips stale snapshots instead of queueing them.
 */
export class EndpointsHub {
  readonly #subscribers = new Map<string, Set<LatestValue<readonly Endpoint[]>>>();
  readonly #onUnwatched: (app: string) => void;
  #closed = false;

  /** onUnwatched: the app's last subscriber left (nobody routes to it any more). */
  constructor(onUnwatched: (app: string) => void = () => {}) {
    this.#onUnwatched = onUnwatched;
  }

  subscribe(app: string, current: readonly Endpoint[], signal?: AbortSignal): AsyncIterable<readonly Endpoint[]> {
    if (this.#closed || signal?.aborted) {
      const ended = new LatestValue<readonly Endpoint[]>(() => {});
      ended.end();
      return ended;
    }
    let subscribers = this.#subscribers.get(app);
    if (!subscribers) {
      subscribers = new Set();
      this.#subscribers.set(app, subscribers);
    }
    const watching = subscribers;
    const channel: LatestValue<readonly Endpoint[]> = new LatestValue<readonly Endpoint[]>(() => {
      if (!watching.delete(channel) || watching.size > 0) return;
      if (this.#subscribers.get(app) === watching) this.#subscribers.delete(app);
      this.#onUnwatched(app);
    }, signal);
    watching.add(channel);
    channel.set(current);
    return channel;
  }

  publish(app: string, endpoints: readonly Endpoint[]): void {
    const subscribers = this.#subscribers.get(app);
    if (subscribers) for (const subscriber of subscribers) subscriber.set(endpoints);
  }

  /** Whether anyone reads the app's endpoints (a draining replica then waits for drained()). */
  watched(app: string): boolean {
    return (this.#subscribers.get(app)?.size ?? 0) > 0;
  }

  /** Ends every subscription. */
  close(): void {
    this.#closed = true;
    for (const subscribers of [...this.#subscribers.values()]) for (const subscriber of [...subscribers]) subscriber.end();
    this.#subscribers.clear();
  }
}
