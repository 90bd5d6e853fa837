import { EventChannel } from './event-channel.js';

/** The newest of a series of snapshots, as an async iterable: a reader that falls behind skips the stale ones. */
export class LatestValue<T> extends EventChannel<T> {
  constructor(onEnd: () => void, signal?: AbortSignal) {
    super(onEnd, signal, 'latest');
  }

  set(value: T): void {
    this.push(value);
  }
}
