import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { App } from '../../crds/index.js';
import { LocalStore } from '../local-store/local-store.js';
import { appInput } from '../resource-store-contract.js';
import type { ResourceStore } from '../resource-store.js';
import type { ReplicaStatus } from './replica-status.js';
import { StatusWriter } from './status-writer.js';

/** The store, counting reads and writes of each App, and telling a waiter about each write. */
function countingStore(store: LocalStore) {
  const reads = new Map<string, number>();
  const writes: string[] = [];
  const waiters: ((app: string) => void)[] = [];
  const counted: ResourceStore = Object.create(store, {
    find: {
      value: (kind: 'App', name: string, namespace?: string) => {
        reads.set(name, (reads.get(name) ?? 0) + 1);
        return store.find(kind, name, namespace);
      },
    },
    updateStatus: {
      value: async (object: App) => {
        const written = await store.updateStatus(object);
        writes.push(object.metadata.name);
        for (const wake of waiters.splice(0)) wake(object.metadata.name);
        return written;
      },
    },
  });
  const nextWrite = () => new Promise<string>((resolve) => waiters.push(resolve));
  return { counted, reads, writes, nextWrite };
}

describe('StatusWriter', () => {
  it('writes a burst of changes once, and neither reads nor writes a report equal to the last one', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'dormant-status-'));
    const store = await LocalStore.open({ stateDir });
    try {
      await store.create(appInput('web'));
      await store.create(appInput('other'));
      const { counted, reads, writes, nextWrite } = countingStore(store);
      const current = new Map<string, ReplicaStatus>([
        ['web', { desiredReplicas: 1, readyReplicas: 0, ready: undefined }],
        ['other', { desiredReplicas: 0, readyReplicas: 0, ready: undefined }],
      ]);
      const writer = new StatusWriter({ store: counted, log: pino({ level: 'silent' }), delayMs: 5, current: (app) => current.get(app) });
      let written = nextWrite();
      for (let i = 0; i < 10; i++) writer.schedule('web');
      assert.equal(await written, 'web');
      assert.deepEqual(writes, ['web']);
      assert.equal((await store.find('App', 'web'))?.status?.desiredReplicas, 1);

      // The same report again, then a change of another app, whose timer fires after web's.
      writer.schedule('web');
      current.set('other', { desiredReplicas: 1, readyReplicas: 0, ready: undefined });
      written = nextWrite();
      writer.schedule('other');
      assert.equal(await written, 'other');
      assert.deepEqual(writes, ['web', 'other']);
      assert.equal(reads.get('web'), 1, 'the repeated report of web was read from the store');
      writer.close();
    } finally {
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
