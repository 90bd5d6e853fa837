import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { App } from '../../crds/index.js';
import { LocalStore } from '../local-store/local-store.js';
import { appInput } from '../resource-store-contract.js';
import type { WatchEvent } from '../resource-store.js';
import { Informer } from './informer.js';

/** The next change the informer reports, or a failure naming what was awaited. */
function nextChange(informer: Informer<'App'>, what: string): Promise<WatchEvent<App>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no change reported: ${what}`)), 10_000);
    const stop = informer.onChange((event) => {
      clearTimeout(timer);
      stop();
      resolve(event);
    });
  });
}

describe('Informer', () => {
  it('holds what the store held at start, then each change, reported once with the object that changed', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'dormant-informer-'));
    const store = await LocalStore.open({ stateDir });
    try {
      await store.create(appInput('before-a'));
      await store.create(appInput('before-b'));
      const informer = new Informer(store, 'App');
      const seen: string[] = [];
      informer.onChange((event) => seen.push(`${event.type} ${event.object.metadata.name}`));
      await informer.start();
      assert.deepEqual([...informer.list()].map((a) => a.metadata.name).sort(), ['before-a', 'before-b']);

      const added = nextChange(informer, 'the new App');
      await store.create(appInput('later'));
      assert.equal((await added).object.metadata.name, 'later');
      assert.equal(informer.get('later')?.metadata.name, 'later');

      const modified = nextChange(informer, 'the status write');
      const current = informer.get('before-a');
      assert.ok(current);
      await store.updateStatus({ ...current, status: { url: 'http://before-a.localhost' } });
      assert.equal((await modified).type, 'MODIFIED');
      assert.equal(informer.get('before-a')?.status?.url, 'http://before-a.localhost');

      const deleted = nextChange(informer, 'the deletion');
      await store.delete('App', 'before-b');
      assert.equal((await deleted).type, 'DELETED');
      assert.equal(informer.get('before-b'), undefined);
      assert.equal(informer.size, 2);
      // The watch's first events repeat the listed objects: those are not reported as changes.
      assert.deepEqual(seen, ['ADDED later', 'MODIFIED before-a', 'DELETED before-b']);
      informer.stop();
    } finally {
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
