// Runs the CLI in this process against a real state folder, capturing what it prints.
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LocalStore } from '../runtime/index.js';
import type { Io } from './io.js';
import { main } from './main.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const made: string[] = [];
process.once('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A fresh state folder, removed when the test process exits. */
export async function tempStateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dormant-cli-'));
  made.push(dir);
  return dir;
}

export async function runCli(
  stateDir: string,
  argv: readonly string[],
  /** onStdout: called with all of stdout so far on every write, for a command that runs until stopped. */
  options: { stdin?: string; env?: Record<string, string>; now?: Date; cwd?: string; stop?: AbortSignal; onStdout?: (stdout: string) => void } = {},
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: {
      write: (t: string | Uint8Array) => {
        stdout += typeof t === 'string' ? t : Buffer.from(t).toString('utf8');
        options.onStdout?.(stdout);
      },
    },
    stderr: { write: (t: string | Uint8Array) => (stderr += typeof t === 'string' ? t : Buffer.from(t).toString('utf8')) },
    stdin: Readable.from(options.stdin === undefined ? [] : [options.stdin]),
    env: { DORMANT_HOME: stateDir, ...options.env },
    cwd: options.cwd ?? stateDir,
    now: () => options.now ?? new Date(),
    stop: options.stop ?? AbortSignal.abort(),
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

/** Opens the local store of a state folder for fn and closes it afterwards. */
export async function withStore<T>(stateDir: string, fn: (store: LocalStore) => Promise<T>): Promise<T> {
  const store = await LocalStore.open({ stateDir });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
