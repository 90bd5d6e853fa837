import { createWriteStream, renameSync, type WriteStream, watch } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LogLine, LogOptions } from '../runtime.js';

interface AppLog {
  readonly recent: LogLine[];
  file: WriteStream;
  bytes: number;
}

export interface LogBookOptions {
  readonly logsDir: string;
  /** Lines kept in memory per app, for status messages. */
  readonly recentLines?: number;
  /** The file is rotated to <app>.log.1 past this size. */
  readonly maxFileBytes?: number;
}

const logFile = (logsDir: string, app: string) => join(logsDir, `${app}.log`);

/**
 * Replica output: the last lines of each app in memory, and every line in
 * <logsDir>/<app>.log as JSON lines, rotated once to <app>.log.1.
 */
export class LogBook {
  readonly #logsDir: string;
  readonly #recentLines: number;
  readonly #maxFileBytes: number;
  readonly #apps = new Map<string, AppLog>();

  constructor(options: LogBookOptions) {
    this.#logsDir = options.logsDir;
    this.#recentLines = options.recentLines ?? 200;
    this.#maxFileBytes = options.maxFileBytes ?? 5 * 1024 * 1024;
  }

  async open(): Promise<void> {
    await mkdir(this.#logsDir, { recursive: true });
  }

  #appLog(app: string): AppLog {
    let log = this.#apps.get(app);
    if (!log) {
      const path = logFile(this.#logsDir, app);
      log = { recent: [], file: this.#open(path), bytes: 0 };
      const created = log;
      stat(path).then((s) => (created.bytes += s.size), () => {});
      this.#apps.set(app, log);
    }
    return log;
  }

  /** A log file that cannot be written (folder gone, disk full) loses lines, not Dormant. */
  #open(path: string): WriteStream {
    const stream = createWriteStream(path, { flags: 'a' });
    stream.on('error', () => {
      this.writeErrors++;
    });
    return stream;
  }

  /** Write failures so far (the in-memory lines are kept regardless). */
  writeErrors = 0;

  append(app: string, line: LogLine): void {
    const log = this.#appLog(app);
    log.recent.push(line);
    if (log.recent.length > this.#recentLines) log.recent.splice(0, log.recent.length - this.#recentLines);
    const text = `${JSON.stringify(line)}\n`;
    log.file.write(text);
    log.bytes += Buffer.byteLength(text);
    if (log.bytes > this.#maxFileBytes) this.#rotate(app, log);
  }

  #rotate(app: string, log: AppLog): void {
    const path = logFile(this.#logsDir, app);
    // The old stream keeps its descriptor, so lines it still buffers land in the renamed file.
    try {
      renameSync(path, `${path}.1`);
    } catch {
      log.bytes = 0; // try again after another maxFileBytes, not on every line
      return;
    }
    log.file.end();
    log.file = this.#open(path);
    log.bytes = 0;
  }

  /** The last lines of an app (of any replica), oldest first. */
  recent(app: string, count: number): LogLine[] {
    const lines = this.#apps.get(app)?.recent ?? [];
    return lines.slice(Math.max(0, lines.length - count));
  }

  async close(): Promise<void> {
    await Promise.all([...this.#apps.values()].map((log) => new Promise<void>((resolve) => log.file.end(resolve))));
    this.#apps.clear();
  }
}

function parseLine(text: string): LogLine | undefined {
  try {
    const line = JSON.parse(text) as LogLine;
    return typeof line.time === 'string' && typeof line.text === 'string' ? line : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An app's log lines from its files, oldest first; with follow, then every new line until
 * the signal aborts. Works from any process (`dormant logs` reads what `dormant up` writes).
 */
export async function* readLogs(logsDir: string, app: string, options: LogOptions = {}): AsyncIterable<LogLine> {
  const path = logFile(logsDir, app);
  const since = options.sinceMs ?? Number.NEGATIVE_INFINITY;
  const keep = (line: LogLine | undefined): line is LogLine => line !== undefined && Date.parse(line.time) >= since;
  const readFrom = async (file: string, offset: number): Promise<{ text: string; size: number }> => {
    const handle = await open(file, 'r').catch(() => undefined);
    if (!handle) return { text: '', size: 0 };
    try {
      const { size } = await handle.stat();
      if (size <= offset) return { text: '', size };
      const buffer = Buffer.alloc(size - offset);
      await handle.read(buffer, 0, buffer.length, offset);
      return { text: buffer.toString('utf8'), size };
    } finally {
      await handle.close();
    }
  };

  const rotated = await readFrom(`${path}.1`, 0);
  for (const text of rotated.text.split('\n')) {
    const line = text ? parseLine(text) : undefined;
    if (keep(line)) yield line;
  }
  let offset = 0;
  let partial = '';
  const drain = async function* () {
    const chunk = await readFrom(path, offset);
    if (chunk.size < offset) {
      offset = 0; // rotated under us: start the new file from its beginning
      partial = '';
      return;
    }
    offset = chunk.size;
    const lines = (partial + chunk.text).split('\n');
    partial = lines.pop() ?? '';
    for (const text of lines) {
      const line = text ? parseLine(text) : undefined;
      if (keep(line)) yield line;
    }
  };
  yield* drain();
  if (!options.follow) return;

  await mkdir(logsDir, { recursive: true });
  let wake: (() => void) | undefined;
  const watcher = watch(logsDir, () => wake?.());
  try {
    while (!options.signal?.aborted) {
      // inotify wakes us at once; the timer covers events it coalesced away.
      await Promise.race([
        new Promise<void>((resolve) => {
          wake = resolve;
        }),
        sleep(500, undefined, options.signal ? { signal: options.signal } : {}).catch(() => {}),
      ]);
      wake = undefined;
      yield* drain();
    }
  } finally {
    watcher.close();
  }
}

/** An app's logs as `dormant up` wrote them under stateDir. */
export function readAppLogs(stateDir: string, app: string, options: LogOptions = {}): AsyncIterable<LogLine> {
  return readLogs(join(stateDir, 'logs'), app, options);
}
