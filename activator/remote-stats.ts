/**
 * The StatsSink of an activator whose autoscaler runs in other processes (Kubernetes): each
 * report and each wake-up poke is posted to every autoscaler, the one acting and the ones
 * standing by, so whichever takes over already has the load history. Posts are fire and
 * forget: a slow or missing autoscaler never holds up a request.
 */
import type { Logger } from 'pino';
import type { AppStats, StatsSink } from './activator.js';

export interface RemoteStatsOptions {
  /** host:port of each autoscaler now (read at every post). */
  readonly targets: () => readonly string[];
  readonly log: Logger;
}

export class RemoteStatsSink implements StatsSink {
  readonly #options: RemoteStatsOptions;
  #failures = 0;

  constructor(options: RemoteStatsOptions) {
    this.#options = options;
  }

  #post(path: string, body: string): void {
    for (const target of this.#options.targets()) {
      fetch(`http://${target}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(2000) }).then(
        (response) => {
          void response.body?.cancel();
          this.#failures = 0;
        },
        (error: unknown) => {
          // Logged once per run of failures, not per post.
          if (this.#failures++ === 0) this.#options.log.warn({ err: error, target }, 'cannot reach an autoscaler');
        },
      );
    }
  }

  round(stats: readonly AppStats[]): void {
    // An empty round is posted too: it tells the autoscaler that every app this activator knows was idle.
    this.#post('/stats/round', JSON.stringify(stats));
  }

  report(stats: readonly AppStats[]): void {
    this.#post('/stats', JSON.stringify(stats));
  }

  poke(app: string): void {
    this.#post(`/poke/${encodeURIComponent(app)}`, '');
  }
}
