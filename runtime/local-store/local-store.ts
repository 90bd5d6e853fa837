import { randomUUID } from 'node:crypto';
import { type FSWatcher, watch as watchFolder } from 'node:fs';
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import {
  defaultNamespace,
  type DormantObject,
  formatProblem,
  hasImmutableSpec,
  isKindName,
  type KindName,
  kinds,
  type ObjectOfKind,
  validateAs,
} from '../../crds/index.js';
import { storeErrors } from '../errors.js';
import type { ListOptions, ObjectInput, ResourceStore, WatchEvent, WatchOptions } from '../resource-store.js';
import { tempMarker, writeFileAtomic } from './atomic-file.js';
import { EventChannel } from './event-channel.js';
import { StateLock } from './state-lock.js';

export interface LocalStoreOptions {
  /** The state folder; objects live under <stateDir>/objects/<plural>/<namespace>/<name>.json. */
  readonly stateDir: string;
  readonly now?: () => Date;
  readonly lockTimeoutMs?: number;
  /** Full rescan period for watches, a safety net under inotify. */
  readonly resyncMs?: number;
}

interface Watcher {
  readonly kind: KindName;
  readonly options: WatchOptions;
  readonly channel: EventChannel<WatchEvent<DormantObject>>;
}

type Known = Map<string, DormantObject>;

const rvNumber = (o: DormantObject | undefined): number => Number(o?.metadata.resourceVersion ?? 0);

function matches(object: DormantObject, options: ListOptions): boolean {
  if (options.namespace !== undefined && object.metadata.namespace !== options.namespace) return false;
  const selector = options.labelSelector;
  if (selector) {
    const labels = object.metadata.labels ?? {};
    for (const [key, value] of Object.entries(selector)) if (labels[key] !== value) return false;
  }
  return true;
}

/** ResourceStore over JSON files: the embedded default, no daemon, shared by every local process. */
export class LocalStore implements ResourceStore {
  readonly #objectsDir: string;
  readonly #now: () => Date;
  readonly #lock: StateLock;
  readonly #resyncMs: number;
  readonly #watchers = new Set<Watcher>();
  /** Last state seen per watched kind, keyed by namespace/name; what watch events diff against. */
  readonly #known = new Map<KindName, Known>();
  readonly #folderWatchers = new Map<string, FSWatcher>();
  #resyncTimer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(options: LocalStoreOptions) {
    this.#objectsDir = join(options.stateDir, 'objects');
    this.#now = options.now ?? (() => new Date());
    this.#lock = new StateLock(join(this.#objectsDir, '.lock'), options.lockTimeoutMs === undefined ? {} : { timeoutMs: options.lockTimeoutMs });
    this.#resyncMs = options.resyncMs ?? 5000;
  }

  static async open(options: LocalStoreOptions): Promise<LocalStore> {
    const store = new LocalStore(options);
    await mkdir(store.#objectsDir, { recursive: true });
    return store;
  }

  #kindDir(kind: KindName): string {
    return join(this.#objectsDir, kinds[kind].plural);
  }

  #file(kind: KindName, namespace: string, name: string): string {
    return join(this.#kindDir(kind), namespace, `${name}.json`);
  }

  async #read<K extends KindName>(kind: K, namespace: string, name: string): Promise<ObjectOfKind[K] | undefined> {
    const file = this.#file(kind, namespace, name);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      return JSON.parse(text) as ObjectOfKind[K];
    } catch (error) {
      throw storeErrors.corrupt({ file, reason: (error as Error).message }, { cause: error });
    }
  }

  async #nextResourceVersion(): Promise<string> {
    const counterFile = join(this.#objectsDir, 'resource-version');
    const current = Number.parseInt(await readFile(counterFile, 'utf8').catch(() => '0'), 10) || 0;
    const next = String(current + 1);
    // The counter is written before the object, so a crash between the two skips a number
    // instead of handing out one twice.
    await writeFileAtomic(counterFile, next);
    return next;
  }

  #invalid(kind: string, namespace: string, name: string, problems: readonly string[]) {
    return storeErrors.invalid({ kind, namespace, name, problems });
  }

  /** Validates and defaults the caller's object (metadata the store owns is set later). */
  #admit<K extends KindName>(input: ObjectInput<K>, namespace: string): ObjectOfKind[K] {
    const kind: unknown = input.kind;
    if (!isKindName(kind)) {
      throw this.#invalid(String(kind), namespace, String(input.metadata?.name), [`kind: ${JSON.stringify(kind)} is not a Dormant kind; use one of App, Revision, AutoscalePolicy`]);
    }
    const { status: _status, ...rest } = input;
    const result = validateAs(kind, { ...rest, metadata: { ...input.metadata, namespace } });
    if (!result.ok) throw this.#invalid(kind, namespace, String(input.metadata?.name), result.problems.map(formatProblem));
    return result.object as ObjectOfKind[K];
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
    const namespaces = options.namespace !== undefined ? [options.namespace] : await this.#namespaces(kind);
    const found: ObjectOfKind[K][] = [];
    for (const namespace of namespaces.sort()) {
      const names = await readdir(join(this.#kindDir(kind), namespace)).catch(() => [] as string[]);
      for (const file of names.sort()) {
        if (!file.endsWith('.json') || file.includes(tempMarker)) continue;
        const object = await this.#read(kind, namespace, file.slice(0, -'.json'.length));
        if (object && matches(object, options)) found.push(object);
      }
    }
    return found;
  }

  async #namespaces(kind: KindName): Promise<string[]> {
    const entries = await readdir(this.#kindDir(kind), { withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  }

  async create<K extends KindName>(input: ObjectInput<K>): Promise<ObjectOfKind[K]> {
    const namespace = input.metadata.namespace ?? defaultNamespace;
    const admitted = this.#admit(input, namespace);
    const { kind } = input;
    const { name } = admitted.metadata;
    const created = await this.#lock.withLock(async () => {
      if (await this.#read(kind, namespace, name)) throw storeErrors.alreadyExists({ kind, namespace, name });
      const object = {
        ...admitted,
        metadata: {
          ...ownedMetadata(admitted.metadata),
          name,
          namespace,
          uid: randomUUID(),
          resourceVersion: await this.#nextResourceVersion(),
          generation: 1,
          creationTimestamp: this.#now().toISOString().replace(/\.\d+Z$/, 'Z'),
        },
      } as ObjectOfKind[K];
      await this.#write(kind, object);
      return object;
    });
    this.#observe(kind, `${namespace}/${name}`, created);
    return created;
  }

  async update<K extends KindName>(input: ObjectInput<K>): Promise<ObjectOfKind[K]> {
    return this.#replace(input, 'spec');
  }

  async updateStatus<K extends KindName>(input: ObjectInput<K>): Promise<ObjectOfKind[K]> {
    return this.#replace(input, 'status');
  }

  async #replace<K extends KindName>(input: ObjectInput<K>, part: 'spec' | 'status'): Promise<ObjectOfKind[K]> {
    const namespace = input.metadata.namespace ?? defaultNamespace;
    const { kind } = input;
    const { name } = input.metadata;
    const admitted = part === 'spec' ? this.#admit(input, namespace) : undefined;
    const updated = await this.#lock.withLock(async () => {
      const current = await this.#read(kind, namespace, name);
      if (!current) throw storeErrors.notFound({ kind, namespace, name });
      const given = input.metadata.resourceVersion;
      const currentVersion = current.metadata.resourceVersion ?? '';
      if (given !== undefined && given !== currentVersion) {
        throw storeErrors.conflict({ kind, namespace, name, given, current: currentVersion });
      }
      let next: ObjectOfKind[K];
      if (admitted) {
        const specChanged = !isDeepStrictEqual(admitted.spec, current.spec);
        if (specChanged && hasImmutableSpec(kind)) throw storeErrors.immutable({ kind, namespace, name });
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
        const candidate = { ...current, status: input.status };
        const result = validateAs(kind, candidate);
        if (!result.ok) throw this.#invalid(kind, namespace, name, result.problems.map(formatProblem));
        next = result.object as ObjectOfKind[K];
      }
      next.metadata.resourceVersion = await this.#nextResourceVersion();
      await this.#write(kind, next);
      return next;
    });
    this.#observe(kind, `${namespace}/${name}`, updated);
    return updated;
  }

  async delete<K extends KindName>(kind: K, name: string, namespace = defaultNamespace): Promise<ObjectOfKind[K]> {
    const deleted = await this.#lock.withLock(async () => {
      const current = await this.#read(kind, namespace, name);
      if (!current) throw storeErrors.notFound({ kind, namespace, name });
      const resourceVersion = await this.#nextResourceVersion();
      await unlink(this.#file(kind, namespace, name));
      return { ...current, metadata: { ...current.metadata, resourceVersion } };
    });
    this.#observe(kind, `${namespace}/${name}`, undefined);
    return deleted;
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
        const known = await store.#track(kind);
        if (options.signal?.aborted || store.#closed) return;
        const watcher: Watcher = {
          kind,
          options,
          channel: new EventChannel(() => store.#watchers.delete(watcher), options.signal),
        };
        // Snapshot and registration happen in one tick, so no change falls between them.
        if (options.resourceVersion === undefined) {
          for (const object of known.values()) if (matches(object, options)) watcher.channel.push({ type: 'ADDED', object });
        }
        store.#watchers.add(watcher);
        yield* watcher.channel as AsyncIterable<WatchEvent<ObjectOfKind[K]>>;
      },
    };
  }

  /** Starts following a kind's files (once), returning the live map of what is known. */
  async #track(kind: KindName): Promise<Known> {
    const existing = this.#known.get(kind);
    if (existing) return existing;
    const known: Known = new Map();
    for (const object of await this.list(kind)) known.set(`${object.metadata.namespace}/${object.metadata.name}`, object);
    const raced = this.#known.get(kind);
    if (raced) return raced;
    this.#known.set(kind, known);
    await mkdir(this.#kindDir(kind), { recursive: true });
    this.#followFolder(kind, this.#kindDir(kind), undefined);
    for (const namespace of await this.#namespaces(kind)) this.#followFolder(kind, join(this.#kindDir(kind), namespace), namespace);
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
          this.#followFolder(kind, join(dir, file), file);
          void this.#rescanNamespace(kind, file);
        } else if (file.endsWith('.json') && !file.includes(tempMarker)) {
          void this.#refresh(kind, namespace, file.slice(0, -'.json'.length));
        }
      });
      watcher.on('error', () => this.#folderWatchers.delete(dir));
      this.#folderWatchers.set(dir, watcher);
    } catch {
      // The folder vanished between listing and watching; the resync covers it.
    }
  }

  async #refresh(kind: KindName, namespace: string, name: string): Promise<void> {
    const object = await this.#read(kind, namespace, name).catch(() => undefined);
    this.#observe(kind, `${namespace}/${name}`, object);
  }

  async #rescanNamespace(kind: KindName, namespace: string): Promise<void> {
    const objects = await this.list(kind, { namespace }).catch(() => []);
    for (const object of objects) this.#observe(kind, `${namespace}/${object.metadata.name}`, object);
  }

  async #resync(): Promise<void> {
    for (const [kind, known] of this.#known) {
      const objects = await this.list(kind).catch(() => undefined);
      if (!objects) continue;
      const present = new Set<string>();
      for (const object of objects) {
        const key = `${object.metadata.namespace}/${object.metadata.name}`;
        present.add(key);
        this.#observe(kind, key, object);
      }
      for (const key of [...known.keys()]) if (!present.has(key)) this.#observe(kind, key, undefined);
    }
  }

  /** Records the current state of one object and tells the watchers what changed. */
  #observe(kind: KindName, key: string, object: DormantObject | undefined): void {
    const known = this.#known.get(kind);
    if (!known) return;
    const previous = known.get(key);
    let event: WatchEvent<DormantObject>;
    if (object === undefined) {
      if (!previous) return;
      known.delete(key);
      event = { type: 'DELETED', object: previous };
    } else {
      if (previous && rvNumber(object) <= rvNumber(previous)) return;
      known.set(key, object);
      event = { type: previous ? 'MODIFIED' : 'ADDED', object };
    }
    for (const watcher of this.#watchers) {
      if (watcher.kind === kind && matches(event.object, watcher.options)) watcher.channel.push(event);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#resyncTimer) clearInterval(this.#resyncTimer);
    for (const watcher of this.#folderWatchers.values()) watcher.close();
    this.#folderWatchers.clear();
    for (const watcher of [...this.#watchers]) watcher.channel.end();
    // Let writes in progress finish, so no temp file is left behind.
    await this.#lock.withLock(async () => {}).catch(() => {});
  }
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
