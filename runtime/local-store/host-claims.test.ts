// The local store checks that hosts are one app's each under its state lock, so writers
// racing from two clients (two processes: dormant up and the CLI) cannot both take one.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { apiVersion } from '../../crds/index.js';
import { isDormantError } from '../../errors/index.js';
import { LocalStore } from './local-store.js';

describe('LocalStore: hosts are one app’s each', () => {
  it('of six apps racing from two clients for one host, exactly one gets it; the others are refused naming it', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'dormant-store-hosts-'));
    const [a, b] = [await LocalStore.open({ stateDir }), await LocalStore.open({ stateDir })];
    try {
      await a.create({ apiVersion, kind: 'App', metadata: { name: 'bystander' }, spec: { routes: { hosts: ['stays.example.com'] } } });
      const results = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) =>
          (i % 2 === 0 ? a : b).create({ apiVersion, kind: 'App', metadata: { name: `racer-${i}` }, spec: { routes: { hosts: ['race.example.com'] } } }),
        ),
      );
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [`racer-${i}`] : []));
      assert.equal(won.length, 1, `one winner, got ${won.join(', ')}`);
      for (const result of results) {
        if (result.status === 'rejected') {
          assert.ok(isDormantError(result.reason, 'STORE_HOST_TAKEN'), String(result.reason));
          assert.match(result.reason.message, new RegExp(`cannot claim host race\\.example\\.com: app ${won[0]} already serves it`));
        }
      }
      const apps = await b.list('App');
      assert.deepEqual(apps.map((app) => `${app.metadata.name} ${app.spec.routes.hosts.join()}`), ['bystander stays.example.com', `${won[0]} race.example.com`]);
    } finally {
      await a.close();
      await b.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('a store opened for another domain refuses that domain and the addresses under it', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'dormant-store-hosts-'));
    const store = await LocalStore.open({ stateDir, domain: 'apps.example.com' });
    try {
      await store.create({ apiVersion, kind: 'App', metadata: { name: 'shop' }, spec: {} });
      const blog = await store.create({ apiVersion, kind: 'App', metadata: { name: 'blog' }, spec: { routes: { hosts: ['shop.localhost'] } } });
      await assert.rejects(store.update({ ...blog, spec: { ...blog.spec, routes: { hosts: ['apps.example.com'] } } }), (e: unknown) => isDormantError(e, 'STORE_HOST_RESERVED'));
      await assert.rejects(store.update({ ...blog, spec: { ...blog.spec, routes: { hosts: ['shop.apps.example.com'] } } }), (e: unknown) => isDormantError(e, 'STORE_HOST_TAKEN'));
      assert.deepEqual((await store.get('App', 'blog')).spec.routes.hosts, ['shop.localhost']);
    } finally {
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
