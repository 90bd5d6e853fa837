/** What a command may touch of the outside world; tests pass their own. */
export interface Io {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly stdin: AsyncIterable<Buffer | string>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly now: () => Date;
  /** Ends long-running commands (up, logs -f). */
  readonly stop: AbortSignal;
  /** Routes SIGINT and SIGTERM to stop; other commands keep the default (exit at once). */
  readonly catchStopSignals?: () => void;
}

export async function readAll(stream: AsyncIterable<Buffer | string>): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
  return text;
}
