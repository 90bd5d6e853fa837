/**
 * What a push or release said to its pusher, kept for `dormant releases APP REV`: the
 * lines as they were sent, in `build-logs/<app>/<revision>.log` of the state folder
 * (readable by Dormant's user only), written once the push ends, served or refused. A
 * build's output is the tenant's: it is kept to its first 1 MiB.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../state-folder/index.js';

export const maxBuildLogBytes = 1024 * 1024;

export const buildLogFile = (stateDir: string, app: string, revision: string): string => join(stateDir, 'build-logs', app, `${revision}.log`);

export class BuildLog {
  readonly #lines: string[] = [];
  #bytes = 0;
  #cut = false;

  /** Wraps a progress callback: each line goes on, and into the log while it has room. */
  tee(progress: (line: string) => void): (line: string) => void {
    return (line) => {
      progress(line);
      if (this.#cut) return;
      const bytes = Buffer.byteLength(line) + 1;
      if (this.#bytes + bytes > maxBuildLogBytes) {
        this.#cut = true;
        this.#lines.push(`(the rest is not kept: a build log keeps its first ${maxBuildLogBytes / 1024 / 1024} MiB)`);
        return;
      }
      this.#bytes += bytes;
      this.#lines.push(line);
    };
  }

  /** A line for the log only (why the push was refused, which the pusher is told apart). */
  note(line: string): void {
    if (!this.#cut) this.#lines.push(line);
  }

  async save(stateDir: string, app: string, revision: string): Promise<void> {
    await mkdir(join(stateDir, 'build-logs', app), { recursive: true, mode: 0o700 });
    await writeFileAtomic(buildLogFile(stateDir, app, revision), this.#lines.map((line) => `${line}\n`).join(''));
  }
}
