import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isDormantError } from '../../errors/index.js';
import type { ObjectInput } from '../resource-store.js';
import { appInput, resourceStoreContract } from '../resource-store-contract.js';
import { LocalStore, type LocalStoreOptions } from './local-store.js';

const tempState = () => mkdtemp(join(tmpdir(), 'dormant-store-'));

resourceStoreContract('LocalStore', async () => {
  const stateDir = await tempState();
  return {
    store: await LocalStore.open({ stateDir }),
    openPeer: () => LocalStore.open({ stateDir }),
    cleanup: () => rm(stateDir, { recursive: true, force: true }),
  };
});

const writerLoop = fileURLToPath(new URL('./test-fixtures/writer-loop.ts', import.meta.url));

/** Collects every file under dir, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
}

const incrementLoop = fileURLToPath(new URL('./test-fixtures/increment-loop.ts', import.meta.url));

function runProcess(args: string[]): Promise<number | null> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
  return new Promise((resolve) => child.on('exit', resolve));
}

/** A pid that no process has any more. */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid ?? 999_999;
}

describe('LocalStore on disk', () => {
  it('four processes updating one object lose no update, even starting on a dead owner\'s lock', async () => {
    const stateDir = await tempState();
    const store = await LocalStore.open({ stateDir });
    try {
      await store.create({ ...appInput('counter'), metadata: { name: 'counter', annotations: { count: '0' } } });
      // As a kill -9 leaves it: a lock held by a process that no longer exists.
      await writeFile(join(stateDir, 'objects', '.lock'), `${await deadPid()} 12345`);
      const codes = await Promise.all([1, 2, 3, 4].map(() => runProcess([incrementLoop, stateDir, '25'])));
      assert.deepEqual(codes, [0, 0, 0, 0]);
      assert.equal((await store.get('App', 'counter')).metadata.annotations?.count, '100');
    } finally {
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('two stores in one process write side by side without tripping over each other', async () => {
    const stateDir = await tempState();
    const [a, b] = [await LocalStore.open({ stateDir }), await LocalStore.open({ stateDir })];
    try {
      await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).create(appInput(`pair-${i}`))));
      const versions = (await a.list('App')).map((x) => x.metadata.resourceVersion);
      assert.equal(versions.length, 40);
      assert.equal(new Set(versions).size, 40, 'every write got its own resourceVersion');
    } finally {
      await a.close();
      await b.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('a lost resource-version counter resumes above every stored object', async () => {
    const stateDir = await tempState();
    try {
      const first = await LocalStore.open({ stateDir });
      for (let i = 0; i < 5; i++) await first.create(appInput(`before-${i}`));
      await first.close();
      await rm(join(stateDir, 'objects', 'resource-version'));
      const second = await LocalStore.open({ stateDir });
      const after = await second.create(appInput('after'));
      assert.equal(after.metadata.resourceVersion, '6');
      await second.close();
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('temp files of a dead writer are swept on open; a hand-edited file that breaks the schema is reported', async () => {
    const stateDir = await tempState();
    const store = await LocalStore.open({ stateDir });
    try {
      await store.create(appInput('edited'));
      const folder = join(stateDir, 'objects', 'apps', 'default');
      await writeFile(join(folder, `.edited.json.tmp-${await deadPid()}-abcd`), '{"half": ');
      await writeFile(join(folder, 'edited.json'), JSON.stringify({ apiVersion: 'dormant.dev/v1alpha1', kind: 'App', metadata: { name: 'edited' }, spec: { run: { port: 'x' } } }));
      await assert.rejects(store.get('App', 'edited'), (error: unknown) => isDormantError(error, 'STORE_CORRUPT') && error.message.includes('spec.run.port: expected an integer'));
      const reopened = await LocalStore.open({ stateDir });
      await reopened.close();
      assert.deepEqual((await readdir(folder)).sort(), ['edited.json']);
    } finally {
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('keeps one pretty JSON file per object under objects/<plural>/<namespace>/', async () => {
    const stateDir = await tempState();
    const store = await LocalStore.open({ stateDir, now: () => new Date('2026-01-02T03:04:05.678Z') });
    try {
      await store.create(appInput('on-disk'));
      const text = await readFile(join(stateDir, 'objects', 'apps', 'default', 'on-disk.json'), 'utf8');
      const stored = JSON.parse(text);
      assert.equal(stored.metadata.name, 'on-disk');
      assert.equal(stored.metadata.creationTimestamp, '2026-01-02T03:04:05Z');
      assert.ok(text.includes('\n  "apiVersion"'), 'indented for people who read state files');
    } finally {
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('a file that is not JSON is reported with its path, and the rest stays readable', async () => {
    const stateDir = await tempState();
    const store = await LocalStore.open({ stateDir });
    try {
      await store.create(appInput('healthy'));
      await store.create(appInput('broken'));
      const file = join(stateDir, 'objects', 'apps', 'default', 'broken.json');
      await writeFile(file, '{"apiVersion": ');
      await assert.rejects(store.get('App', 'broken'), (error: unknown) => isDormantError(error, 'STORE_CORRUPT') && error.message.includes(file));
      assert.equal((await store.get('App', 'healthy')).metadata.name, 'healthy');
    } finally {
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('a lock held by a live process times out with STORE_LOCKED naming it', async () => {
    const stateDir = await tempState();
    const holder = spawn('sleep', ['30']);
    const store = await LocalStore.open({ stateDir, lockTimeoutMs: 200 });
    try {
      await writeFile(join(stateDir, 'objects', '.lock'), String(holder.pid));
      await assert.rejects(store.create(appInput('blocked')), (error: unknown) => isDormantError(error, 'STORE_LOCKED') && error.message.includes(`process ${holder.pid}`));
      assert.equal(await store.find('App', 'blocked'), undefined);
    } finally {
      holder.kill('SIGKILL');
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('kill -9 during a loop of writes leaves every file parseable and the store writable', async () => {
    const stateDir = await tempState();
    try {
      for (let round = 0; round < 10; round++) {
        const child = spawn(process.execPath, ['--import', 'tsx', writerLoop, stateDir, String(round)], { stdio: ['ignore', 'pipe', 'inherit'] });
        // Kill it a while after its first write: a different moment in each round.
        await new Promise<void>((resolve, reject) => {
          child.stdout.once('data', () => setTimeout(resolve, 20 + round * 23));
          child.on('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
        });
        const exited = new Promise((resolve) => child.on('exit', resolve));
        child.kill('SIGKILL');
        await exited;
        const versions = new Map<string, string>();
        for (const file of await filesUnder(join(stateDir, 'objects'))) {
          if (!file.endsWith('.json') || file.includes('.tmp-')) continue;
          let parsed: { metadata: { resourceVersion: string } } | undefined;
          assert.doesNotThrow(() => {
            parsed = JSON.parse(readFileSync(file, 'utf8'));
          }, `unparseable after kill -9: ${file}`);
          const version = parsed?.metadata.resourceVersion ?? '';
          assert.ok(!versions.has(version), `${file} and ${versions.get(version)} share resourceVersion ${version}`);
          versions.set(version, file);
        }
        const counter = Number(readFileSync(join(stateDir, 'objects', 'resource-version'), 'utf8'));
        assert.ok(counter >= Math.max(...[...versions.keys()].map(Number)), 'the counter is never behind an object');
        const store = await LocalStore.open({ stateDir, lockTimeoutMs: 2000 });
        const apps = await store.list('App');
        assert.ok(apps.length > 0);
        // The dead writer may have left its lock: the next write must break it, not wait.
        await store.create(appInput(`after-kill-${round}`));
        await store.close();
      }
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});

/** A store whose file reads are recorded, by path, in `reads`. */
async function countingStore(stateDir: string, options: Partial<LocalStoreOptions> = {}) {
  const reads: string[] = [];
  const store = await LocalStore.open({
    stateDir,
    ...options,
    // Reads that found a file: looking for one that is not there (create) opens nothing.
    readFile: async (path) => {
      const text = await readFile(path, 'utf8');
      reads.push(path);
      return text;
    },
  });
  const objectReads = () => reads.filter((path) => path.endsWith('.json'));
  const counterReads = () => reads.filter((path) => path.endsWith('resource-version')).length;
  return { store, reads, objectReads, counterReads };
}

/** Until `done()` holds, or fails saying `what` did not happen within the deadline. */
async function until(done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!done()) {
    if (Date.now() - started > timeoutMs) assert.fail(`${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const revisionOf = (app: string): ObjectInput<'Revision'> => ({
  apiVersion: 'dormant.dev/v1alpha1',
  kind: 'Revision',
  metadata: { name: `${app}-00001`, labels: { 'dormant.dev/app': app } },
  spec: { app, commit: 'a'.repeat(40), run: {} },
});

// Files written this long ago are old enough to be told apart by their stat (the store does
// not trust the stat of a file written within the last 2 s).
const later = () => new Date(Date.now() + 10_000);

describe('LocalStore reads what changed, not every file (1,000 apps asleep)', () => {
  it('a resync when no other process wrote reads no object file', async () => {
    const stateDir = await tempState();
    const { store, reads, objectReads, counterReads } = await countingStore(stateDir, { resyncMs: 10 });
    const stop = new AbortController();
    try {
      for (let i = 0; i < 20; i++) await store.create(appInput(`quiet-${i}`));
      const events: string[] = [];
      void (async () => {
        for await (const event of store.watch('App', { signal: stop.signal })) events.push(`${event.type} ${event.object.metadata.name}`);
      })();
      await until(() => events.length === 20, 'the watch listed the 20 apps');
      // Its own writes keep the watch in sync too: no re-read after them either.
      await store.updateStatus({ ...(await store.get('App', 'quiet-3')), status: { readyReplicas: 0 } });
      await until(() => events.length === 21, 'the watch saw the status write');
      // inotify tells the store of its own write too; it reads that one file once.
      await until(() => objectReads().some((path) => path.endsWith('/quiet-3.json')), 'the store re-read the file it wrote');
      await new Promise((resolve) => setTimeout(resolve, 50));
      reads.length = 0;
      await until(() => counterReads() >= 5, 'five resyncs looked at the counter');
      assert.deepEqual(objectReads(), [], 'the resync read object files although nothing changed');
    } finally {
      stop.abort();
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('after another process writes, the resync reads only the file it changed, and the watch has the change', async () => {
    const stateDir = await tempState();
    const { store, reads, objectReads, counterReads } = await countingStore(stateDir, { resyncMs: 10, now: later });
    const peer = await LocalStore.open({ stateDir });
    const stop = new AbortController();
    try {
      for (let i = 0; i < 20; i++) await store.create(appInput(`watched-${i}`));
      const events: string[] = [];
      void (async () => {
        for await (const event of store.watch('App', { signal: stop.signal })) events.push(`${event.type} ${event.object.metadata.name} ${event.object.status?.readyReplicas ?? '-'}`);
      })();
      await until(() => events.length === 20, 'the watch listed the 20 apps');
      reads.length = 0;
      await peer.updateStatus({ ...(await peer.get('App', 'watched-7')), status: { readyReplicas: 2 } });
      await until(() => events.includes('MODIFIED watched-7 2'), "the watch saw the other process's write");
      const counterBefore = counterReads();
      await until(() => counterReads() >= counterBefore + 5, 'five more resyncs looked at the counter');
      const others = objectReads().filter((path) => !path.endsWith('/watched-7.json'));
      assert.deepEqual(others, [], 'only the changed file is read again');
      assert.equal(events.length, 21, 'one event for one change');
      assert.equal((await store.get('App', 'watched-7')).status?.readyReplicas, 2);
    } finally {
      stop.abort();
      await peer.close();
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('resyncs do not queue up behind a lock another process holds: one waits, the rest are skipped', async () => {
    const stateDir = await tempState();
    const holder = spawn('sleep', ['30']);
    const { store, counterReads } = await countingStore(stateDir, { resyncMs: 10 });
    const stop = new AbortController();
    try {
      await store.create(appInput('waiting'));
      const events: string[] = [];
      void (async () => {
        for await (const event of store.watch('App', { signal: stop.signal })) events.push(event.type);
      })();
      await until(() => events.length === 1, 'the watch listed the app');
      // A live process holds the lock for 500 ms: some 50 resync periods.
      await writeFile(join(stateDir, 'objects', '.lock'), String(holder.pid));
      await new Promise((resolve) => setTimeout(resolve, 500));
      const before = counterReads();
      await rm(join(stateDir, 'objects', '.lock'));
      await new Promise((resolve) => setTimeout(resolve, 100));
      // The one resync that waited, and the few of the 100 ms after it; not the 50 that fell due meanwhile.
      assert.ok(counterReads() - before <= 15, `${counterReads() - before} resyncs ran once the lock was free`);
    } finally {
      stop.abort();
      holder.kill('SIGKILL');
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('the first write of a new store (each CLI command) reads the object it writes, not every object', async () => {
    const stateDir = await tempState();
    try {
      const first = await LocalStore.open({ stateDir });
      for (let i = 0; i < 20; i++) await first.create(appInput(`many-${i}`));
      for (let i = 0; i < 20; i++) await first.create(revisionOf(`many-${i}`));
      await first.close();
      const { store, objectReads } = await countingStore(stateDir);
      const app = await store.get('App', 'many-4');
      const updated = await store.update({ ...app, metadata: { ...app.metadata, annotations: { note: 'set' } } });
      assert.equal(updated.metadata.resourceVersion, '41');
      assert.deepEqual([...new Set(objectReads())], [join(stateDir, 'objects', 'apps', 'default', 'many-4.json')]);
      await store.close();
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('a counter behind the object being replaced resumes above every stored object', async () => {
    const stateDir = await tempState();
    const store = await LocalStore.open({ stateDir });
    try {
      for (let i = 0; i < 5; i++) await store.create(appInput(`behind-${i}`));
      // As a counter file restored from an older backup leaves it.
      await writeFile(join(stateDir, 'objects', 'resource-version'), '2');
      const newest = await store.get('App', 'behind-4');
      assert.equal(newest.metadata.resourceVersion, '5');
      const updated = await store.updateStatus({ ...newest, status: { readyReplicas: 1 } });
      assert.equal(updated.metadata.resourceVersion, '6');
      assert.equal(await readFile(join(stateDir, 'objects', 'resource-version'), 'utf8'), '6');
    } finally {
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it("listing one app's revisions again reads no file that did not change", async () => {
    const stateDir = await tempState();
    const { store, objectReads, reads } = await countingStore(stateDir, { now: later });
    try {
      for (let i = 0; i < 30; i++) await store.create(revisionOf(`app-${i}`));
      const byLabel = { labelSelector: { 'dormant.dev/app': 'app-12' } };
      assert.deepEqual((await store.list('Revision', byLabel)).map((r) => r.metadata.name), ['app-12-00001']);
      reads.length = 0;
      const again = await store.list('Revision', byLabel);
      assert.deepEqual(again.map((r) => r.metadata.name), ['app-12-00001']);
      assert.deepEqual(objectReads(), [], 'the second listing read files again');
      await store.create(revisionOf('app-30'));
      assert.equal((await store.list('Revision')).length, 31);
      assert.deepEqual(objectReads(), [join(stateDir, 'objects', 'revisions', 'default', 'app-30-00001.json')], 'only the new file is read');
    } finally {
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('a listing sees files changed since by another process, by hand at the same size, or removed', async () => {
    const stateDir = await tempState();
    const { store } = await countingStore(stateDir, { now: later });
    const peer = await LocalStore.open({ stateDir });
    try {
      for (const name of ['a', 'b', 'c']) await store.create({ ...appInput(name), metadata: { name, annotations: { note: 'aaaa' } } });
      await store.list('App');
      await peer.update({ ...(await peer.get('App', 'a')), metadata: { ...(await peer.get('App', 'a')).metadata, annotations: { note: 'peer' } } });
      const file = join(stateDir, 'objects', 'apps', 'default', 'b.json');
      const text = await readFile(file, 'utf8');
      await writeFile(file, text.replace('"aaaa"', '"bbbb"'));
      assert.equal((await readFile(file, 'utf8')).length, text.length, 'the hand edit keeps the size');
      await rm(join(stateDir, 'objects', 'apps', 'default', 'c.json'));
      const listed = await store.list('App');
      assert.deepEqual(
        listed.map((app) => `${app.metadata.name}=${app.metadata.annotations?.note}`),
        ['a=peer', 'b=bbbb'],
      );
    } finally {
      await peer.close();
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('a listed object is the caller\'s own: changing it changes nothing the store hands out later', async () => {
    const stateDir = await tempState();
    const { store } = await countingStore(stateDir, { now: later });
    try {
      await store.create(appInput('mine'));
      const first = await store.list('App');
      const app = first[0];
      assert.ok(app);
      app.metadata.name = 'changed';
      assert.deepEqual((await store.list('App')).map((a) => a.metadata.name), ['mine']);
    } finally {
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('a file written less than 2 s ago is read again on the next listing (its stat may not show a second write yet)', async () => {
    const stateDir = await tempState();
    const { store, objectReads, reads } = await countingStore(stateDir);
    try {
      await store.create(appInput('fresh'));
      await store.list('App');
      reads.length = 0;
      await store.list('App');
      assert.equal(objectReads().length, 1);
    } finally {
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
