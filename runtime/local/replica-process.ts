import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { bindToDormant } from '../../lifetime/index.js';
import { removeContainer } from './containers.js';
import { probeDelayMs, replicaAnswers } from '../core/index.js';

export interface ReplicaLaunch {
  readonly id: string;
  readonly cwd: string;
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly port: number;
  readonly readinessPath: string | undefined;
  readonly onLine: (stream: 'stdout' | 'stderr', text: string) => void;
  /** A container replica's name: killed, its podman client leaves the container behind. */
  readonly container?: string;
  /** The command binds itself to Dormant's life already (a sandbox does): not wrapped again. */
  readonly bound?: boolean;
  /** A warm sandbox's command, which waits for open() (a line on its fd 4, a pipe from Dormant). */
  readonly gated?: boolean;
  /** Written to fd 3 at once, then closed: a sandbox's tenant environment (sandbox/). */
  readonly input3?: string;
}

export interface ReplicaExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * A loopback port held (listened on, never accepted from) until release(), for a warm
 * sandbox's replica: its environment names the port when the sandbox is made, and nothing
 * else may take it meanwhile. release() frees it at once (the listening socket is closed
 * synchronously), just before the replica starts and binds it.
 */
export function reservePort(): Promise<{ readonly port: number; release(): void }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
      const { port } = server.address() as { port: number };
      let released = false;
      resolve({
        port,
        release: () => {
          if (released) return;
          released = true;
          server.close();
        },
      });
    });
  });
}

/** A free loopback port for a replica's $PORT. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** One replica: a process group led by the app's process. */
export class ReplicaProcess {
  readonly id: string;
  #port: number;
  readonly #child: ChildProcess;
  readonly #container: string | undefined;
  readonly exited: Promise<ReplicaExit>;
  #exit: ReplicaExit | undefined;

  constructor(launch: ReplicaLaunch) {
    this.id = launch.id;
    this.#port = launch.port;
    this.#container = launch.container;
    // The replica and what it forks die with Dormant, even by SIGKILL; a container's podman
    // client only (conmon runs the container; the next start removes it by label).
    const [program, ...args] = launch.bound ? launch.command : bindToDormant(launch.command, launch.container ? 'process' : 'tree');
    // detached: its own process group, so stopping it reaches whatever it forked.
    this.#child = spawn(program ?? 'false', args, {
      cwd: launch.cwd,
      env: launch.env,
      detached: true,
      stdio: launch.gated ? ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] : launch.input3 !== undefined ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
    });
    // A sandbox that ended (or was discarded) before it read them: no error to raise.
    this.#fd3()?.on('error', () => undefined);
    this.#gate()?.on('error', () => undefined);
    if (launch.input3 !== undefined) this.#fd3()?.end(launch.input3);
    this.exited = new Promise((resolve) => {
      let closed = false;
      this.#child.once('close', () => {
        closed = true;
      });
      this.#child.once('exit', (code, signal) => {
        const exit = { code, signal };
        // Its last lines may still be in the pipes; wait for them, but not for a forked
        // process that keeps the pipes open after the leader is gone.
        const settle = () => {
          this.#exit = exit;
          resolve(exit);
        };
        if (closed) settle();
        else {
          const timer = setTimeout(settle, 100);
          this.#child.once('close', () => {
            clearTimeout(timer);
            settle();
          });
        }
      });
      this.#child.once('error', (error) => {
        launch.onLine('stderr', `dormant: cannot start ${launch.command.join(' ')}: ${error.message}`);
        this.#exit = { code: 127, signal: null };
        resolve(this.#exit);
      });
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      const source = this.#child[stream];
      if (source) createInterface({ input: source, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (text) => launch.onLine(stream, text));
    }
  }

  #fd3(): Writable | undefined {
    return (this.#child.stdio[3] as Writable | null | undefined) ?? undefined;
  }

  #gate(): Writable | undefined {
    return (this.#child.stdio[4] as Writable | null | undefined) ?? undefined;
  }

  get port(): number {
    return this.#port;
  }

  /** Starts a gated (warm) sandbox's command: everything else was made, its port and environment given, when it was. */
  open(): void {
    this.#gate()?.end('\n');
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get hasExited(): boolean {
    return this.#exit !== undefined;
  }

  /**
   * Resolves 'ready' when the app answers, 'exited' if it dies first, 'timeout' after
   * timeoutMs, or the port it listens on instead of its own, when listensElsewhere (asked at
   * most once a second, from 3 s on) finds the same one for 10 s: an app that opens a
   * debug or metrics port first and its own later is not taken for one that ignores $PORT.
   */
  async waitReady(readinessPath: string | undefined, timeoutMs: number, listensElsewhere?: () => Promise<number | undefined>): Promise<'ready' | 'exited' | 'timeout' | { readonly elsewhere: number }> {
    const started = performance.now();
    const stop = new AbortController();
    const exited = this.exited.then(() => 'exited' as const);
    let strayAt: { port: number; ms: number } | undefined;
    let askedAt = Number.NEGATIVE_INFINITY;
    try {
      for (;;) {
        if (this.#exit) return 'exited';
        const ok = await replicaAnswers('127.0.0.1', this.#port, readinessPath);
        if (ok && !this.#exit) return 'ready';
        const elapsed = performance.now() - started;
        if (elapsed >= timeoutMs) return 'timeout';
        if (listensElsewhere && elapsed >= 3000 && elapsed - askedAt >= 1000) {
          askedAt = elapsed;
          const port = await listensElsewhere();
          if (port === undefined || strayAt?.port !== port) strayAt = port === undefined ? undefined : { port, ms: elapsed };
          else if (elapsed - strayAt.ms >= 10_000) return { elsewhere: port };
        }
        const pause = sleep(Math.min(probeDelayMs(elapsed), timeoutMs - elapsed), 'again' as const, { signal: stop.signal }).catch(() => 'again' as const);
        if ((await Promise.race([pause, exited])) === 'exited') return 'exited';
      }
    } finally {
      stop.abort();
    }
  }

  #signalGroup(signal: NodeJS.Signals): void {
    const pid = this.#child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is already gone.
    }
  }

  /** SIGTERM to the whole group, SIGKILL after graceMs; resolves when the leader has exited. */
  async stop(graceMs: number): Promise<ReplicaExit> {
    // Once the leader's exit is seen its pid may be reused: no more group signals.
    if (this.#exit) return this.#exit;
    this.#signalGroup('SIGTERM');
    const cancel = new AbortController();
    const timer = sleep(graceMs, 'timeout' as const, { signal: cancel.signal }).catch(() => 'cancelled' as const);
    if ((await Promise.race([this.exited, timer])) === 'timeout') this.kill();
    cancel.abort();
    return this.exited;
  }

  kill(): void {
    this.#signalGroup('SIGKILL');
    if (this.#container) void removeContainer(this.#container);
  }
}
