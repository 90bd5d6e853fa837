/**
 * What feeds one app's reconciler, for both executors: it asks the executor what runs and
 * what should, performs the actions the reconciler returns through the executor, looks
 * again at the time the reconciler names (a back-off or a rollout deadline ends), and again
 * at once after an action that changed what should run (a rollout ended). The executor
 * calls run() after every change it observes.
 */
import { type DesiredApp, type PlannedReplica, type RuntimeAction, reconcile } from './reconcile.js';

export interface ReconcileExecutor {
  /** What should run and what runs, now. */
  observe(): { readonly desired: DesiredApp; readonly replicas: readonly PlannedReplica[] };
  /** Performs one action; true when what should run changed and the app must be reconciled again. */
  perform(action: RuntimeAction): boolean;
  /** After a pass: what the executor does with the whole answer (Kubernetes: Deployment scales), and publishing what changed. */
  settle(replicas: readonly PlannedReplica[], actions: readonly RuntimeAction[]): void;
}

export class ReconcileLoop {
  readonly #executor: ReconcileExecutor;
  readonly #clock: () => number;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(executor: ReconcileExecutor, clock: () => number) {
    this.#executor = executor;
    this.#clock = clock;
  }

  run(): void {
    if (this.#stopped) return;
    const { desired, replicas } = this.#executor.observe();
    const { actions, nextMs } = reconcile(desired, replicas, this.#clock());
    let again = false;
    for (const action of actions) again = this.#executor.perform(action) || again;
    clearTimeout(this.#timer);
    this.#timer = nextMs === undefined ? undefined : setTimeout(() => this.run(), Math.max(0, nextMs - this.#clock()));
    this.#executor.settle(replicas, actions);
    // A rollout ended: what it held (one replica at zero, the old revision on a failure) is reconsidered.
    if (again) queueMicrotask(() => this.run());
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
