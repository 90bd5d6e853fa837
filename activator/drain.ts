import type { Server } from 'node:http';
import type { Logger } from 'pino';

/**
 * How long a drain waits for idle keep-alive connections to expire before it closes the
 * listener: the keep-alive timeout clients were told and half a second more, within the
 * deadline. Pure.
 */
export function idleWaitMs(deadlineMs: number, keepAliveMs: number): number {
  return Math.min(deadlineMs, keepAliveMs + 500);
}

/**
 * Stopping without dropping a request, for an activator behind a load balancer that is
 * taking it out (a deleted pod). Once begun, `draining` is true for good: the request path
 * reads it as each answer starts and answers with Connection: close.
 */
export class Drain {
  readonly #log: Logger;
  readonly #keepAliveMs: number;
  #draining = false;

  constructor(log: Logger, keepAliveMs: number) {
    this.#log = log;
    this.#keepAliveMs = keepAliveMs;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Begins at once (`draining` is true when this returns), then keeps answering whatever still
   * arrives, each answer with Connection: close. Idle keep-alive connections are not cut (a
   * client may be sending on one at that moment): they expire on the keep-alive timeout the
   * clients were told, which well-behaved clients stop reusing just before. Then the listener
   * closes once the last request is answered; at deadlineMs whatever is left is cut. A second
   * call does nothing.
   */
  async run(servers: readonly Server[], deadlineMs: number): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    const started = performance.now();
    const keepAliveMs = this.#keepAliveMs;
    this.#log.info({ keepAliveMs, deadlineMs }, 'draining: answering with Connection: close until idle connections expire');
    await new Promise((resolve) => setTimeout(resolve, idleWaitMs(deadlineMs, keepAliveMs)));
    const left = Math.max(0, deadlineMs - (performance.now() - started));
    const closed = Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, left)))]);
    clearTimeout(timer);
    this.#log.info({ drainedMs: Math.round(performance.now() - started) }, 'drained');
  }
}
