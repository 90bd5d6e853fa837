/**
 * Warm sandboxes: for an app that has woken in this run, one sandbox of its current revision
 * made ahead of need (namespaces, cgroups, mounts), its command waiting for a line on stdin.
 * The next replica of that revision takes it and only starts the app: making a sandbox costs
 * about 15 ms, and a process's first cgroup join waits out an RCU grace period (10 to 20 ms
 * here), which would otherwise be paid on every wake-up.
 *
 * One per app at most, and at most `capacity` in all: the least recently parked goes first.
 * A warm sandbox holds two small processes (unshare and its shell) and no app code.
 */
import type { App, Revision } from '../../crds/index.js';
import type { ReplicaProcess } from './replica-process.js';

export interface WarmSandbox {
  readonly app: string;
  readonly id: string;
  readonly process: ReplicaProcess;
  /** The loopback port its replica will listen on, held by Dormant until it is taken (reservePort). */
  readonly port: number;
  readonly releasePort: () => void;
  /** What it was made from: a later App (new config) or another revision makes it stale. */
  readonly madeFor: { readonly app: App | undefined; readonly revision: Revision };
  /** Set once a replica took it: its exit is then that replica's. */
  taken: boolean;
}

export class WarmSandboxes {
  readonly #capacity: number;
  /** In the order they were parked. */
  readonly #parked = new Map<string, WarmSandbox>();

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#parked.size;
  }

  /** Whether the app has a warm sandbox made for exactly this App and revision. */
  has(app: string, appObject: App | undefined, revision: Revision): boolean {
    const parked = this.#parked.get(app);
    return parked !== undefined && parked.madeFor.app === appObject && parked.madeFor.revision.metadata.name === revision.metadata.name;
  }

  /** The app's warm sandbox when it was made for this App and revision; a stale one is discarded. */
  take(app: string, appObject: App | undefined, revision: Revision): WarmSandbox | undefined {
    const parked = this.#parked.get(app);
    if (!parked) return undefined;
    this.#parked.delete(app);
    if (parked.madeFor.app !== appObject || parked.madeFor.revision.metadata.name !== revision.metadata.name) {
      parked.process.kill();
      return undefined;
    }
    parked.taken = true;
    return parked;
  }

  /** Parks one, replacing the app's earlier one; over capacity, the oldest goes. */
  park(sandbox: WarmSandbox): void {
    this.drop(sandbox.app);
    this.#parked.set(sandbox.app, sandbox);
    for (const [app] of this.#parked) {
      if (this.#parked.size <= this.#capacity) break;
      this.drop(app);
    }
  }

  /** Whether this sandbox is still parked (not taken, not replaced); forgets it. For its exit. */
  forget(sandbox: WarmSandbox): boolean {
    if (this.#parked.get(sandbox.app) !== sandbox) return false;
    this.#parked.delete(sandbox.app);
    return true;
  }

  drop(app: string): void {
    const parked = this.#parked.get(app);
    if (!parked) return;
    this.#parked.delete(app);
    parked.process.kill();
  }

  dropAll(): void {
    for (const app of [...this.#parked.keys()]) this.drop(app);
  }
}
