/**
 * Each app's own uid and gid on this host: its replicas (and, next, its builds and hooks)
 * run as it, never as root and never as another app's. Allocated once per app, kept in
 * the state folder, so an app keeps its uid across restarts of Dormant.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sandboxErrors } from './errors.js';

/**
 * The range apps' uids come from: far above the uids people and system services have
 * (Debian gives people 1000–59999 and subordinate ranges from 100000), below 2^31.
 */
export const appIdRange = { first: 1_500_000_000, count: 1_000_000 } as const;

/** The lowest free id of the range for app, or its own if it has one. Pure. */
export function allocateAppId(known: Readonly<Record<string, number>>, app: string, range: { readonly first: number; readonly count: number } = appIdRange, file = 'app-ids.json'): number {
  const own = known[app];
  if (own !== undefined) return own;
  const taken = new Set(Object.values(known));
  for (let id = range.first; id < range.first + range.count; id++) if (!taken.has(id)) return id;
  throw sandboxErrors.noFreeAppId({ count: range.count, file });
}

/** The file's app → uid map, or undefined when it is not one (hand-edited, truncated). Pure. */
export function parseAppIds(text: string): Record<string, number> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const entries = Object.entries(parsed);
  if (!entries.every(([, id]) => Number.isInteger(id) && (id as number) > 0)) return undefined;
  return Object.fromEntries(entries) as Record<string, number>;
}

export class AppIds {
  readonly #file: string;
  #known: Record<string, number>;

  private constructor(file: string, known: Record<string, number>) {
    this.#file = file;
    this.#known = known;
  }

  /** Reads STATE/app-ids.json (absent: no app has an id yet). Only `dormant up`, which holds the state folder's lock, allocates. */
  static open(stateDir: string): AppIds {
    const file = join(stateDir, 'app-ids.json');
    if (!existsSync(file)) return new AppIds(file, {});
    const known = parseAppIds(readFileSync(file, 'utf8'));
    if (known === undefined) throw sandboxErrors.badAppIds({ file });
    return new AppIds(file, known);
  }

  /**
   * The app's id, allocated and written down (synchronously, before any process runs as
   * it) the first time. Synchronous on purpose: it is on the wake-up path, once per app.
   */
  idOf(app: string): number {
    const own = this.#known[app];
    if (own !== undefined) return own;
    const id = allocateAppId(this.#known, app, appIdRange, this.#file);
    const known = { ...this.#known, [app]: id };
    const temp = `${this.#file}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify(known, null, 2)}\n`, { mode: 0o600 });
    renameSync(temp, this.#file);
    this.#known = known;
    return id;
  }
}
