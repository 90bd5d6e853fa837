/**
 * Each app's own uid and gid on this host: its replicas (and, next, its builds and hooks)
 * run as it, never as root and never as another app's. Allocated once per app, kept in
 * the state folder, so an app keeps its uid across restarts of Dormant.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { sandboxErrors } from './errors.js';

/**
 * The range apps' uids come from: far above the uids people and system services have
 * (Debian gives people 1000–59999 and subordinate ranges from 100000), below 2^31.
 */
export const appIdRange = { first: 1_500_000_000, count: 1_000_000 } as const;

/**
 * Where a state folder's apps start in the range: one of 1,000 blocks of 1,000, by a hash of
 * the folder, so that two Dormants on one machine (two people's, or tests side by side) do
 * not give their first apps the same uid, which would let one's app signal the other's.
 */
export function appIdStart(stateDir: string): number {
  const block = Number.parseInt(createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 8), 16) % 1000;
  return block * 1000;
}

/** The lowest free id of the range from `start` (then from the range's first) for app, or its own if it has one. Pure. */
export function allocateAppId(known: Readonly<Record<string, number>>, app: string, range: { readonly first: number; readonly count: number } = appIdRange, file = 'app-ids.json', start = 0): number {
  const own = known[app];
  if (own !== undefined) return own;
  const taken = new Set(Object.values(known));
  for (let offset = 0; offset < range.count; offset++) {
    const id = range.first + ((start + offset) % range.count);
    if (!taken.has(id)) return id;
  }
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
  readonly #start: number;
  #known: Record<string, number>;

  private constructor(file: string, known: Record<string, number>, start: number) {
    this.#file = file;
    this.#known = known;
    this.#start = start;
  }

  /** Reads STATE/app-ids.json (absent: no app has an id yet). Only `dormant up`, which holds the state folder's lock, allocates. */
  static open(stateDir: string): AppIds {
    const file = join(stateDir, 'app-ids.json');
    if (!existsSync(file)) return new AppIds(file, {}, appIdStart(stateDir));
    const known = parseAppIds(readFileSync(file, 'utf8'));
    if (known === undefined) throw sandboxErrors.badAppIds({ file });
    return new AppIds(file, known, appIdStart(stateDir));
  }

  /**
   * The app's id, allocated and written down (synchronously, before any process runs as
   * it) the first time. Synchronous on purpose: it is on the wake-up path, once per app.
   */
  idOf(app: string): number {
    const own = this.#known[app];
    if (own !== undefined) return own;
    const id = allocateAppId(this.#known, app, appIdRange, this.#file, this.#start);
    const known = { ...this.#known, [app]: id };
    const temp = `${this.#file}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify(known, null, 2)}\n`, { mode: 0o600 });
    renameSync(temp, this.#file);
    this.#known = known;
    return id;
  }
}
