import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { cliErrors } from './errors.js';

/** What a command may touch of the outside world; tests pass their own. */
export interface Io {
  readonly stdout: { write(text: string | Uint8Array): unknown };
  readonly stderr: { write(text: string | Uint8Array): unknown };
  readonly stdin: AsyncIterable<Buffer | string>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly now: () => Date;
  /** Ends long-running commands (up, logs -f). */
  readonly stop: AbortSignal;
  /** Routes SIGINT and SIGTERM to stop; other commands keep the default (exit at once). */
  readonly catchStopSignals?: () => void;
}

/** The first line of a stream (a typed answer), without its line end; undefined at once-ended input. Reads at most 4 KiB. */
export async function firstLine(stream: AsyncIterable<Buffer | string>): Promise<string | undefined> {
  let text = '';
  for await (const chunk of stream) {
    text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    const end = text.indexOf('\n');
    if (end >= 0) return text.slice(0, end).replace(/\r$/, '');
    if (text.length > 4096) break;
  }
  return text === '' ? undefined : text.slice(0, 4096);
}

export async function readAll(stream: AsyncIterable<Buffer | string>): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
  return text;
}

/** The text of a file named on the command line, or of standard input for "-". */
export async function readSource(io: Io, source: string): Promise<string> {
  if (source === '-') return readAll(io.stdin);
  return readFile(resolve(io.cwd, source), 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw cliErrors.readInput({ source, reason: error.code === 'ENOENT' ? 'no such file' : error.message }, { cause: error });
  });
}
