import { randomUUID } from 'node:crypto';
import { type FSWatcher, watch as watchFolder } from 'node:fs';
import { mkdir, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import {
  type App,
  apiTimestamp,
  defaultNamespace,
  type HostHolder,
  type DormantObject,
  formatProblem,
  hasImmutableSpec,
  type KindName,
  kindNames,
  kinds,
  type ObjectOfKind,
  validateAs,
} from '../../crds/index.js';
import { isIdentityAlive, StateLock, tempMarker, writeFileAtomic } from '../../state-folder/index.js';
import { storeErrors } from '../errors.js';
import type { ListOptions, ObjectInput, ResourceStore, WatchEvent, WatchOptions } from '../resource-store.js';
import { admit, checkHosts, checkKey, claimsNewHosts, deepFreeze, defaultDomain, matches, namePattern, requireResourceVersion } from '../store-checks.js';
import { EventChannel } from '../core/index.js';

export interface LocalStoreOptions {
  /** The state folder; objects live under <stateDir>/objects/<plural>/<namespace>/<name>.json. */
  readonly stateDir: string;
  readonly now?: () => Date;
  readonly lockTimeoutMs?: number;
  /** Full rescan period for watches, a safety net under inotify. */
  readonly resyncMs?: number;
  /** The domain apps are served under (`<app>.<domain>`), for the check that hosts are one app's each; localhost by default. */
  readonly domain?: string;
  /** Reads a file as UTF-8 (node:fs by default); tests pass one that counts what the store reads. */
  readonly readFile?: (path: string) => Promise<string>;
}

/** A parsed object file, with the stat that identifies the version of the file it was read from. */
interface CachedFile {
  readonly signature: string;
  readonly object: DormantObject;
}

/**
 * A file whose mtime is this close to the moment it was read is not cached: a second write
 * within the file system's timestamp granularity (a jiffy, or 2 s on the coarsest) could
 * leave its stat unchanged. Once it is older, any write changes its mtime. (Git's "racily
 * clean" index entries, solved the same way.)
 */
const racyNs = 2_000_000_000n;

interface Watcher {
  readonly kind: KindName;
  readonly options: WatchOptions;
  readonly channel: EventChannel<WatchEvent<DormantObject>>;
}

/** Last state seen per watched kind, keyed by namespace/name: what watch events diff against. */
type Known = Map<string, DormantObject>;

const rvNumber = (o: DormantObject | undefined): number => Number(o?.metadata.resourceVersion ?? 0);

/** What a watch is told when an object stops matching its selector. */
const leftSelector = (previous: DormantObject, current: DormantObject): DormantObject =>
  deepFreeze({ ...previous, metadata: { ...previous.metadata, resourceVersion: current.metadata.resourceVersion } } as DormantObject);

/**
 * ResourceStore over JSON files: the embedded default, no daemon, shared by every local
 * process. Every write, and every read that feeds a watch, happens under the state lock,
 * so watches see changes in resourceVersion order, whichever process made them.
 */
export class LocalStore implements ResourceStore {
  readonly #objectsDir: string;
  readonly #now: () => Date;
  readonly #lock: StateLock;
  readonly #resyncMs: number;
  readonly #domain: string;
  readonly #watchers = new Set<Watcher>();
  readonly #known = new Map<KindName, Known>();
  readonly #folderWatchers = new Map<string, FSWatcher>();
  /** Files other processes changed, re-read in one locked batch. */
  readonly #dirty = new Map<KindName, Set<string>>();
  #dirtyTimer: NodeJS.Timeout | undefined;
  #resyncTimer: NodeJS.Timeout | undefined;
  /** A resync waiting for the lock or running: the timer's next ones are skipped, not queued behind it. */
  #resyncing = false;
  /**
   * The counter value up to which the watched kinds' known objects are complete: set by a
   * full rescan, moved by this store's own writes while no other process wrote in between.
   * The resync rescans only when the counter has moved past it.
   */
  #syncedVersion: number | undefined;
  /** Parsed object files by folder, then file name: a listing re-reads only files whose stat changed. */
  readonly #files = new Map<string, Map<string, CachedFile>>();
  readonly #readFile: (path: string) => Promise<string>;
  /**
   * The hosts every App holds, by namespace/name, as of resource version `version`: read
   * in full when another process wrote since (the counter moved past it), kept current by
   * this store's own writes. Used under the lock only.
   */
  #hostIndex: { version: number; readonly holders: Map<string, HostHolder> } | undefined;
  #closed = false;

  /** The state folder this store keeps its objects in. */
  readonly stateDir: string;

  private constructor(options: LocalStoreOptions) {
    this.stateDir = options.stateDir;
    this.#objectsDir = join(options.stateDir, 'objects');
    this.#now = options.now ?? (() => new Date());
    this.#lock = new StateLock(join(this.#objectsDir, '.lock'), options.lockTimeoutMs === undefined ? {} : { timeoutMs: options.lockTimeoutMs });
    this.#resyncMs = options.resyncMs ?? 5000;
    this.#domain = options.domain ?? defaultDomain;
    this.#readFile = options.readFile ?? ((path) => readFile(path, 'utf8'));
  }

  static async open(options: LocalStoreOptions): Promise<LocalStore> {
    const store = new LocalStore(options);
    await mkdir(store.#objectsDir, { recursive: true });
    await store.#sweepTempFiles();
    return store;
  }

  /** Removes temp files of writers that died mid-write. */
  async #sweepTempFiles(): Promise<void> {
    const entries = await readdir(this.#objectsDir, { recursive: true }).catch(() => [] as string[]);
    for (const entry of entries) {
      const at = entry.indexOf(tempMarker);
      const pid = at >= 0 ? entry.slice(at + tempMarker.length).split('-')[0] : /(?:^|\/)\.lock(?:\.break)?\.(\d+)-/.exec(entry)?.[1];
      if (pid !== undefined && !isIdentityAlive(pid)) await unlink(join(this.#objectsDir, entry)).catch(() => {});
    }
  }

  #kindDir(kind: KindName): string {
    return join(this.#objectsDir, kinds[kind].plural);
  }

  #checkKey(kind: string, name: string, namespace: string): void {
    checkKey(kind, name, namespace);
  }

  #file(kind: KindName, namespace: string, name: string): string {
    this.#checkKey(kind, name, namespace);
    return join(this.#kindDir(kind), namespace, `${name}.json`);
  }

  async #read<K extends KindName>(kind: K, namespace: string, name: string): Promise<ObjectOfKind[K] | undefined> {
    const file = this.#file(kind, namespace, name);
    let text: string;
    try {
      text = await this.#readFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw storeErrors.corrupt({ file, reason: (error as Error).message }, { cause: error });
    }
    // Files can be edited by hand or written by an older Dormant: check before trusting.
    const result = validateAs(kind, parsed);
    if (!result.ok) throw storeErrors.corrupt({ file, reason: result.problems.map(formatProblem).join('; ') });
    return result.object as ObjectOfKind[K];
  }

  /** The resource-version counter; undefined when its file is missing or holds no version. */
  async #readCounterFile(): Promise<number | undefined> {
    const text = await this.#readFile(join(this.#objectsDir, 'resource-version')).catch(() => '');
    const value = Number.parseInt(text, 10);
    return Number.isInteger(value) && value >= 0 ? value : undefined;
  }

  async #readCounter(): Promise<number> {
    return (await this.#readCounterFile()) ?? 0;
  }

  /** Call with the lock held; `replacing` is the stored object an update or delete replaces. */
  async #nextResourceVersion(replacing?: DormantObject): Promise<string> {
    const stored = await this.#readCounterFile();
    let current = stored ?? 0;
    // A lost or damaged counter (missing, not a number, or behind the object being replaced)
    // must not hand out versions that objects already carry: then every object is read once
    // for the highest. A sound counter is trusted, so a write (each CLI command is a new
    // store) does not read every object first.
    if (stored === undefined || rvNumber(replacing) > stored) {
      for (const kind of kindNames) for (const object of await this.#listFiles(kind, {})) current = Math.max(current, rvNumber(object));
    }
    const next = String(current + 1);
    // The counter is written before the object, so a crash between the two skips a number
    // instead of handing out one twice.
    await writeFileAtomic(join(this.#objectsDir, 'resource-version'), next);
    return next;
  }

  #invalid(kind: string, namespace: string, name: string, problems: readonly string[]) {
    return storeErrors.invalid({ kind, namespace, name, problems });
  }

  /** Validates and defaults the caller's object (metadata the store owns is set later). */
  #admit<K extends KindName>(input: ObjectInput<K>, namespace: string): ObjectOfKind[K] {
    return admit(input, namespace);
  }

  async get<K extends KindName>(kind: K, name: string, namespace = defaultNamespace): Promise<ObjectOfKind[K]> {
    const object = await this.#read(kind, namespace, name);
    if (!object) throw storeErrors.notFound({ kind, namespace, name });
    return object;
  }

  find<K extends KindName>(kind: K, name: string, namespace = defaultNamespace): Promise<ObjectOfKind[K] | undefined> {
    return this.#read(kind, namespace, name);
  }

  async list<K extends KindName>(kind: K, options: ListOptions = {}): Promise<ObjectOfKind[K][]> {
    if (options.namespace !== undefined) this.#checkKey(kind, 'list', options.namespace);
    return this.#listFiles(kind, options);
  }

  async #listFiles<K extends KindName>(kind: K, options: ListOptions): Promise<ObjectOfKind[K][]> {
    const namespaces = options.namespace !== undefined ? [options.namespace] : await this.#namespaces(kind);
    const found: ObjectOfKind[K][] = [];
    for (const namespace of namespaces.sort()) {
      const dir = join(this.#kindDir(kind), namespace);
      const names = await readdir(dir).catch(() => [] as string[]);
      const cached = this.#files.get(dir);
      // Rebuilt from this listing, so files that are gone leave the cache too.
      const seen = new Map<string, CachedFile>();
      for (const file of names.sort()) {
        if (!file.endsWith('.json') || file.includes(tempMarker)) continue;
        const object = await this.#readListed(kind, namespace, file, cached?.get(file), seen);
        // Cached objects are shared: each caller gets its own copy.
        if (object && matches(object, options)) found.push(structuredClone(object) as ObjectOfKind[K]);
      }
      this.#files.set(dir, seen);
    }
    return found;
  }

  /**
   * One listed file: the cached object when the file's stat is the one it was read with,
   * otherwise read (and cached unless written too recently to tell apart by its stat).
   */
  async #readListed<K extends KindName>(kind: K, namespace: string, file: string, cached: CachedFile | undefined, seen: Map<string, CachedFile>): Promise<ObjectOfKind[K] | undefined> {
    const path = join(this.#kindDir(kind), namespace, file);
    const stats = await stat(path, { bigint: true }).catch(() => undefined);
    if (!stats) return undefined;
    const signature = `${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
    if (cached?.signature === signature) {
      seen.set(file, cached);
      return cached.object as ObjectOfKind[K];
    }
    const object = await this.#read(kind, namespace, file.slice(0, -'.json'.length));
    if (!object) return undefined;
    const nowNs = BigInt(this.#now().getTime()) * 1_000_000n;
    if (nowNs - stats.mtimeNs >= racyNs && nowNs - stats.ctimeNs >= racyNs) seen.set(file, { signature, object: deepFreeze(object) });
    return object;
  }

  async #namespaces(kind: KindName): Promise<string[]> {
    const entries = await readdir(this.#kindDir(kind), { withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isDirectory() && namePattern.test(e.name)).map((e) => e.name);
  }

  async create<K extends KindName>(input: ObjectInput<K>): Promise<ObjectOfKind[K]> {
    const namespace = input.metadata.namespace ?? defaultNamespace;
    const admitted = this.#admit(input, namespace);
    const { kind } = input;
    const { name } = admitted.metadata;
    return this.#lock.withLock(async () => {
      if (await this.#read(kind, namespace, name)) throw storeErrors.alreadyExists({ kind, namespace, name });
      if (admitted.kind === 'App') await this.#checkHosts(admitted, undefined);
      const object = {
        ...admitted,
        metadata: {
          ...ownedMetadata(admitted.metadata),
          name,
          namespace,
          uid: randomUUID(),
          resourceVersion: await this.#nextResourceVersion(),
          generation: 1,
          creationTimestamp: apiTimestamp(this.#now()),
        },
      } as ObjectOfKind[K];
      await this.#write(kind, object);
      this.#wrote(object.metadata.resourceVersion ?? '');
      this.#indexHosts(kind, `${namespace}/${name}`, object, object.metadata.resourceVersion ?? '');
      this.#observe(kind, `${namespace}/${name}`, object);
      return object;
    });
  }

  update<K extends KindName>(input: ObjectInput<K>): Promise<ObjectOfKind[K]> {
    return this.#replace(input, 'spec');
  }

  updateStatus<K extends KindName>(input: ObjectInput<K>): Promise<ObjectOfKind[K]> {
    return this.#replace(input, 'status');
  }

  async #replace<K extends KindName>(input: ObjectInput<K>, part: 'spec' | 'status'): Promise<ObjectOfKind[K]> {
    const namespace = input.metadata.namespace ?? defaultNamespace;
    const { kind } = input;
    const { name, resourceVersion: given } = input.metadata;
    requireResourceVersion(kind, namespace, name, given);
    const admitted = part === 'spec' ? this.#admit(input, namespace) : undefined;
    return this.#lock.withLock(async () => {
      const current = await this.#read(kind, namespace, name);
      if (!current) throw storeErrors.notFound({ kind, namespace, name });
      const currentVersion = current.metadata.resourceVersion ?? '';
      if (given !== currentVersion) throw storeErrors.conflict({ kind, namespace, name, given, current: currentVersion });
      let next: ObjectOfKind[K];
      if (admitted) {
        const specChanged = !isDeepStrictEqual(admitted.spec, current.spec);
        if (specChanged && hasImmutableSpec(kind)) throw storeErrors.immutable({ kind, namespace, name });
        if (admitted.kind === 'App' && current.kind === 'App') await this.#checkHosts(admitted, current);
        next = {
          ...admitted,
          metadata: {
            ...storeOwnedMetadata(current.metadata),
            ...ownedMetadata(admitted.metadata),
            generation: (current.metadata.generation ?? 1) + (specChanged ? 1 : 0),
          },
          ...('status' in current ? { status: current.status } : {}),
        } as ObjectOfKind[K];
      } else {
        const result = validateAs(kind, { ...current, status: input.status });
        if (!result.ok) throw this.#invalid(kind, namespace, name, result.problems.map(formatProblem));
        next = result.object as ObjectOfKind[K];
      }
      next.metadata.resourceVersion = await this.#nextResourceVersion(current);
      await this.#write(kind, next);
      this.#wrote(next.metadata.resourceVersion);
      this.#indexHosts(kind, `${namespace}/${name}`, next, next.metadata.resourceVersion);
      this.#observe(kind, `${namespace}/${name}`, next);
      return next;
    });
  }

  /** Hosts are one app's each; under the lock, so two writers cannot both take one. Call with the lock held. */
  async #checkHosts(candidate: App, current: App | undefined): Promise<void> {
    if (!claimsNewHosts(candidate, current, this.#domain)) return;
    const counter = await this.#readCounter();
    if (this.#hostIndex?.version !== counter) {
      const holders = new Map<string, HostHolder>();
      for (const app of await this.#listFiles('App', {})) holders.set(`${app.metadata.namespace}/${app.metadata.name}`, hostHolder(app));
      this.#hostIndex = { version: counter, holders };
    }
    checkHosts(candidate, current, this.#hostIndex.holders.values(), this.#domain);
  }

  /**
   * After this store wrote at `version` (and told its watches): the watched kinds stay in
   * sync if it is the next version; a gap means another process wrote. Call with the lock held.
   */
  #wrote(version: string): void {
    if (this.#syncedVersion !== undefined && Number(version) === this.#syncedVersion + 1) this.#syncedVersion += 1;
  }

  /** After this store wrote `object` (undefined: deleted) at `version`; call with the lock held. */
  #indexHosts(kind: KindName, key: string, object: DormantObject | undefined, version: string): void {
    const index = this.#hostIndex;
    if (index === undefined) return;
    // A version that is not the next one: another process wrote in between, or the counter was repaired.
    if (Number(version) !== index.version + 1) {
      this.#hostIndex = undefined;
      return;
    }
    index.version += 1;
    if (kind !== 'App') return;
    if (object?.kind === 'App') index.holders.set(key, hostHolder(object));
    else index.holders.delete(key);
  }

  async delete<K extends KindName>(kind: K, name: string, namespace = defaultNamespace): Promise<ObjectOfKind[K]> {
    this.#checkKey(kind, name, namespace);
    return this.#lock.withLock(async () => {
      const current = await this.#read(kind, namespace, name);
      if (!current) throw storeErrors.notFound({ kind, namespace, name });
      const resourceVersion = await this.#nextResourceVersion(current);
      await unlink(this.#file(kind, namespace, name));
      this.#wrote(resourceVersion);
      this.#indexHosts(kind, `${namespace}/${name}`, undefined, resourceVersion);
      const deleted = { ...current, metadata: { ...current.metadata, resourceVersion } };
      this.#observe(kind, `${namespace}/${name}`, undefined, deleted);
      return deleted;
    });
  }

  async #write(kind: KindName, object: DormantObject): Promise<void> {
    const { namespace = defaultNamespace, name } = object.metadata;
    await mkdir(join(this.#kindDir(kind), namespace), { recursive: true });
    await writeFileAtomic(this.#file(kind, namespace, name), `${JSON.stringify(object, null, 2)}\n`);
  }

  watch<K extends KindName>(kind: K, options: WatchOptions = {}): AsyncIterable<WatchEvent<ObjectOfKind[K]>> {
    const store = this;
    return {
      async *[Symbol.asyncIterator]() {
        if (options.namespace !== undefined) store.#checkKey(kind, 'watch', options.namespace);
        // Under the lock, so no write falls between the snapshot and the subscription.
        const watcher = await store.#lock.withLock(async () => {
          const known = await store.#track(kind);
          if (options.signal?.aborted || store.#closed) return undefined;
          const subscribed: Watcher = { kind, options, channel: new EventChannel(() => store.#watchers.delete(subscribed), options.signal) };
          for (const object of known.values()) if (matches(object, options)) subscribed.channel.push({ type: 'ADDED', object });
          store.#watchers.add(subscribed);
          return subscribed;
        });
        if (watcher) yield* watcher.channel as AsyncIterable<WatchEvent<ObjectOfKind[K]>>;
      },
    };
  }

  /** Starts following a kind's files, once; call with the lock held. */
  async #track(kind: KindName): Promise<Known> {
    const existing = this.#known.get(kind);
    if (existing) return existing;
    await mkdir(this.#kindDir(kind), { recursive: true });
    // Folder watches first: a change by another process from here on is seen.
    this.#followFolder(kind, this.#kindDir(kind), undefined);
    for (const namespace of await this.#namespaces(kind)) this.#followFolder(kind, join(this.#kindDir(kind), namespace), namespace);
    const known: Known = new Map();
    // The first kind followed starts the sync; a later one read while others are behind leaves it behind.
    this.#syncedVersion ??= await this.#readCounter();
    for (const object of await this.#listFiles(kind, {})) known.set(`${object.metadata.namespace}/${object.metadata.name}`, deepFreeze(object));
    this.#known.set(kind, known);
    if (!this.#resyncTimer) {
      this.#resyncTimer = setInterval(() => void this.#resync(), this.#resyncMs);
      this.#resyncTimer.unref();
    }
    return known;
  }

  /** Writes by other processes (the CLI while `dormant up` runs) arrive through inotify. */
  #followFolder(kind: KindName, dir: string, namespace: string | undefined): void {
    if (this.#folderWatchers.has(dir) || this.#closed) return;
    try {
      const watcher = watchFolder(dir, (_event, file) => {
        if (!file) return void this.#resync();
        if (namespace === undefined) {
          if (!namePattern.test(file)) return;
          this.#followFolder(kind, join(dir, file), file);
          this.#markDirty(kind, `${file}/*`);
        } else if (file.endsWith('.json') && !file.includes(tempMarker)) {
          this.#markDirty(kind, `${namespace}/${file.slice(0, -'.json'.length)}`);
        }
      });
      watcher.on('error', () => this.#folderWatchers.delete(dir));
      this.#folderWatchers.set(dir, watcher);
    } catch {
      // The folder vanished between listing and watching; the resync covers it.
    }
  }

  #markDirty(kind: KindName, key: string): void {
    const keys = this.#dirty.get(kind) ?? new Set<string>();
    this.#dirty.set(kind, keys);
    keys.add(key);
    // One locked re-read for the burst of events a single write causes.
    this.#dirtyTimer ??= setTimeout(() => {
      this.#dirtyTimer = undefined;
      void this.#refreshDirty();
    }, 2);
  }

  async #refreshDirty(): Promise<void> {
    if (this.#closed) return;
    const batch = new Map(this.#dirty);
    this.#dirty.clear();
    await this.#lock
      .withLock(async () => {
        for (const [kind, keys] of batch) {
          for (const key of keys) {
            const [namespace = '', name = ''] = key.split('/');
            if (name === '*') {
              for (const object of await this.#listFiles(kind, { namespace })) this.#observe(kind, `${namespace}/${object.metadata.name}`, object);
            } else {
              const object = await this.#read(kind, namespace, name).catch(() => undefined);
              this.#observe(kind, key, object, undefined, await this.#readCounter());
            }
          }
        }
      })
      .catch(() => {});
  }

  async #resync(): Promise<void> {
    if (this.#closed || this.#resyncing) return;
    this.#resyncing = true;
    await this.#lock
      .withLock(async () => {
        const counter = await this.#readCounter();
        // No write since the last look that this store did not make and observe itself: nothing to read.
        if (counter === this.#syncedVersion) return;
        for (const [kind, known] of this.#known) {
          const present = new Set<string>();
          for (const object of await this.#listFiles(kind, {}).catch(() => [])) {
            const key = `${object.metadata.namespace}/${object.metadata.name}`;
            present.add(key);
            this.#observe(kind, key, object);
          }
          for (const key of [...known.keys()]) if (!present.has(key)) this.#observe(kind, key, undefined, undefined, counter);
        }
        this.#syncedVersion = counter;
      })
      .catch(() => {})
      .finally(() => {
        this.#resyncing = false;
      });
  }

  /**
   * Records the state of one object (undefined: gone) and tells each watcher what changed
   * for it, as Kubernetes does: an object that starts or stops matching a watch's selector
   * is ADDED to or DELETED from that watch; the DELETED event of one that left carries its
   * last state that matched, at the version of the change, as the apiserver's does. Call
   * with the lock held.
   */
  #observe(kind: KindName, key: string, object: DormantObject | undefined, deleted?: DormantObject, counterNow?: number): void {
    const known = this.#known.get(kind);
    if (!known) return;
    const previous = known.get(key);
    let current: DormantObject | undefined;
    if (object === undefined) {
      if (!previous) return;
      known.delete(key);
      // Deleted by another process: its deletion version is at most the counter now.
      const version = deleted?.metadata.resourceVersion ?? String(counterNow ?? rvNumber(previous));
      current = undefined;
      deleted = deepFreeze({ ...(deleted ?? previous), metadata: { ...(deleted ?? previous).metadata, resourceVersion: version } } as DormantObject);
    } else {
      if (previous && rvNumber(object) <= rvNumber(previous)) return;
      current = deepFreeze(structuredClone(object));
      known.set(key, current);
    }
    for (const watcher of this.#watchers) {
      if (watcher.kind !== kind) continue;
      const wasIn = previous !== undefined && matches(previous, watcher.options);
      const isIn = current !== undefined && matches(current, watcher.options);
      if (isIn) watcher.channel.push({ type: wasIn ? 'MODIFIED' : 'ADDED', object: current as DormantObject });
      else if (wasIn) watcher.channel.push({ type: 'DELETED', object: current === undefined ? (deleted as DormantObject) : leftSelector(previous, current) });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#resyncTimer);
    clearTimeout(this.#dirtyTimer);
    for (const watcher of this.#folderWatchers.values()) watcher.close();
    this.#folderWatchers.clear();
    for (const watcher of [...this.#watchers]) watcher.channel.end();
    // Let writes in progress finish, so no temp file is left behind.
    await this.#lock.withLock(async () => {}).catch(() => {});
  }
}

/** Just what the host check needs of an App. */
function hostHolder(app: App): HostHolder {
  return { metadata: { name: app.metadata.name, namespace: app.metadata.namespace }, spec: { routes: { hosts: app.spec.routes.hosts } } };
}

/** The metadata a caller may set; the store owns uid, resourceVersion, generation and times. */
function ownedMetadata(meta: DormantObject['metadata']) {
  return {
    ...(meta.labels ? { labels: meta.labels } : {}),
    ...(meta.annotations ? { annotations: meta.annotations } : {}),
    ...(meta.ownerReferences ? { ownerReferences: meta.ownerReferences } : {}),
  };
}

function storeOwnedMetadata(meta: DormantObject['metadata']) {
  const { name, namespace, uid, resourceVersion, generation, creationTimestamp } = meta;
  return { name, namespace, uid, resourceVersion, generation, creationTimestamp };
}
