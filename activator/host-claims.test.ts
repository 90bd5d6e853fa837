// Hosts are one app's each: through the store a claim on a taken host is refused, and an
// object that gets past it (written by hand, as kubectl could on Kubernetes) does not move
// the host. Real store files, real activator, real HTTP.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { apiVersion } from '../crds/index.js';
import { isDormantError } from '../errors/index.js';
import { LocalStore } from '../runtime/index.js';
import { Activator } from './activator.js';
import { call, endpoint, eventWaitBound, ManualEndpoints, RecordingSink, replica } from './test-support.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function servedBy(name: string) {
  const r = await replica((_req, res) => res.end(`${name} here`));
  cleanups.push(async () => {
    r.server.closeAllConnections();
    r.server.close();
  });
  return r;
}

describe('activator: hosts cannot be stolen', eventWaitBound, () => {
  it('a claim on a taken host is refused naming the owner; one written past the store leaves the host with its owner', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'dormant-hosts-'));
    const store = await LocalStore.open({ stateDir });
    await store.create({ apiVersion, kind: 'App', metadata: { name: 'shop' }, spec: { routes: { hosts: ['shop.example.com'] } } });
    const endpoints = new ManualEndpoints();
    const activator = new Activator({ store, endpoints, stats: new RecordingSink(), log: pino({ level: 'silent' }), domain: 'localhost', port: 0 });
    const port = await activator.start();
    cleanups.push(async () => {
      await activator.close();
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    });
    await endpoints.set('shop', [endpoint('shop-1', (await servedBy('shop')).address)]);
    // Applied once the activator learns of an app thief, which only the hand-written file below makes.
    const thiefRouted = endpoints.set('thief', [endpoint('thief-1', (await servedBy('thief')).address)]);

    // Through the store: refused, with the owner's name, and nothing written.
    await assert.rejects(
      store.create({ apiVersion, kind: 'App', metadata: { name: 'thief' }, spec: { routes: { hosts: ['shop.example.com'] } } }),
      (error: unknown) => isDormantError(error, 'STORE_HOST_TAKEN') && /cannot claim host shop\.example\.com: app shop already serves it/.test(error.message),
    );
    assert.equal(await store.find('App', 'thief'), undefined);

    // Past the store: a hand-written file claiming shop's hosts, localhost and 127.0.0.1.
    const thief = {
      apiVersion,
      kind: 'App',
      metadata: { name: 'thief', namespace: 'default', uid: '00000000-0000-4000-8000-000000000001', resourceVersion: '1000', generation: 1, creationTimestamp: '2099-01-01T00:00:00Z' },
      spec: { routes: { hosts: ['shop.example.com', 'shop.localhost', 'localhost', '127.0.0.1'] } },
    };
    await mkdir(join(stateDir, 'objects', 'apps', 'default'), { recursive: true });
    await writeFile(join(stateDir, 'objects', 'apps', 'default', 'thief.json'), JSON.stringify(thief));
    await thiefRouted;
    const thiefAnswer = await call(port, 'thief.localhost');
    assert.equal(thiefAnswer.body, 'thief here', 'the app written past the store is served at its own address');
    for (const host of ['shop.example.com', `shop.localhost:${port}`, 'SHOP.example.com.']) {
      const answer = await call(port, host);
      assert.equal(answer.status, 200, host);
      assert.equal(answer.body, 'shop here', `${host} stays with shop`);
    }
    const root = await call(port, 'localhost', '/', { headers: { accept: 'application/json' } });
    assert.deepEqual(JSON.parse(root.body).apps.map((a: { name: string }) => a.name), ['shop', 'thief'], 'localhost is still the list of apps');
    const byAddress = await call(port, '127.0.0.1');
    assert.notEqual(byAddress.body, 'thief here', '127.0.0.1 is not the thief’s');
  });
});
