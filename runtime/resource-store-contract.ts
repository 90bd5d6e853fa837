/**
 * The behaviour every ResourceStore must show, written once and run against each
 * implementation (local files now, the Kubernetes apiserver later).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiVersion } from '../crds/index.js';
import { isDormantError } from '../errors/index.js';
import type { ObjectInput, ResourceStore, WatchEvent } from './resource-store.js';

export interface StoreUnderTest {
  readonly store: ResourceStore;
  /** A second client on the same backing state (another process, another apiserver client). */
  readonly openPeer: () => Promise<ResourceStore>;
  readonly cleanup: () => Promise<void>;
}

export const appInput = (name: string, spec: Record<string, unknown> = {}, labels?: Record<string, string>): ObjectInput<'App'> => ({
  apiVersion,
  kind: 'App',
  metadata: { name, ...(labels ? { labels } : {}) },
  spec,
});

const revisionInput = (name: string, app: string): ObjectInput<'Revision'> => ({
  apiVersion,
  kind: 'Revision',
  metadata: { name, labels: { 'dormant.dev/app': app } },
  spec: { app, commit: 'a'.repeat(40), run: {} },
});

async function rejectsWith(promise: Promise<unknown>, code: string, includes: readonly string[] = []): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isDormantError(error, code), `expected ${code}, got ${String(error)}`);
    for (const text of includes) assert.ok(error.message.includes(text), `message lacks "${text}": ${error.message}`);
    return true;
  });
}

/** Pulls events from a watch with a deadline, so a missing event fails instead of hanging. */
function eventReader<T>(iterable: AsyncIterable<T>) {
  const iterator = iterable[Symbol.asyncIterator]();
  // Longer than the local store's 5 s resync, so a late event is not mistaken for none.
  return async (timeoutMs = 8000): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no watch event within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const result = await Promise.race([iterator.next(), timeout]);
      if (result.done) throw new Error('watch ended');
      return result.value;
    } finally {
      clearTimeout(timer);
    }
  };
}

export function resourceStoreContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`ResourceStore contract: ${name}`, () => {
    let subject: StoreUnderTest;
    let store: ResourceStore;
    before(async () => {
      subject = await open();
      store = subject.store;
    });
    after(async () => {
      await store.close();
      await subject.cleanup();
    });

    it('create fills in metadata and defaults, and get returns the same object', async () => {
      const created = await store.create(appInput('create-a', { run: { port: 3000 } }));
      assert.equal(created.metadata.namespace, 'default');
      assert.equal(created.metadata.generation, 1);
      assert.match(created.metadata.uid ?? '', /^[0-9a-f-]{36}$/);
      assert.match(created.metadata.resourceVersion ?? '', /^[0-9]+$/);
      assert.match(created.metadata.creationTimestamp ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal(created.spec.git.branch, 'main');
      assert.equal(created.spec.run.port, 3000);
      assert.deepEqual(await store.get('App', 'create-a'), created);
    });

    it('create ignores status: it belongs to updateStatus', async () => {
      const created = await store.create({ ...appInput('create-status'), status: { url: 'http://x' } });
      assert.equal(created.status, undefined);
    });

    it('create of an existing name fails and keeps the existing object', async () => {
      const first = await store.create(appInput('taken', { run: { port: 1111 } }));
      await rejectsWith(store.create(appInput('taken', { run: { port: 2222 } })), 'STORE_ALREADY_EXISTS', ['"taken" already exists']);
      assert.deepEqual(await store.get('App', 'taken'), first);
    });

    it('create of an invalid object names every problem and stores nothing', async () => {
      const bad = appInput('invalid-one', { run: { port: 'eighty' }, routes: { hostz: [] } });
      await rejectsWith(store.create(bad), 'STORE_INVALID', ['spec.run.port: expected an integer', 'spec.routes.hostz: is not a known field']);
      assert.equal(await store.find('App', 'invalid-one'), undefined);
    });

    it('a Revision whose releaseDir or image points outside its own release is refused and nothing is stored', async () => {
      const outside = (spec: Record<string, string>): ObjectInput<'Revision'> => ({ ...revisionInput('outside-00001', 'outside'), spec: { app: 'outside', commit: 'a'.repeat(40), run: {}, ...spec } });
      await rejectsWith(store.create(outside({ releaseDir: '/etc' })), 'STORE_INVALID', ['spec.releaseDir: "/etc" is not valid']);
      await rejectsWith(store.create(outside({ releaseDir: '/srv/state/releases/outside/../../../../etc/releases/outside/outside-00001' })), 'STORE_INVALID', ['spec.releaseDir']);
      await rejectsWith(store.create(outside({ releaseDir: '/srv/state/releases/victim/victim-00001' })), 'STORE_INVALID', ['spec.releaseDir must be the folder releases/<spec.app>/<metadata.name>']);
      await rejectsWith(store.create(outside({ image: 'docker.io/library/alpine' })), 'STORE_INVALID', ['spec.image must be localhost/dormant/<spec.app>:<metadata.name>']);
      assert.equal(await store.find('Revision', 'outside-00001'), undefined);
      const own = await store.create(outside({ releaseDir: '/srv/state/releases/outside/outside-00001', image: 'localhost/dormant/outside:outside-00001' }));
      assert.equal(own.spec.releaseDir, '/srv/state/releases/outside/outside-00001');
    });

    it('create of a bad name says what names are allowed', async () => {
      await rejectsWith(store.create(appInput('Bad_Name')), 'STORE_INVALID', ['metadata.name: "Bad_Name" is not a valid App name', 'lower-case letters']);
    });

    it('get of a missing object is STORE_NOT_FOUND and find is undefined', async () => {
      await rejectsWith(store.get('App', 'nobody'), 'STORE_NOT_FOUND', ['App "nobody" does not exist']);
      assert.equal(await store.find('App', 'nobody'), undefined);
    });

    it('update with a stale resourceVersion is a conflict and changes nothing', async () => {
      const created = await store.create(appInput('conflicted'));
      const updated = await store.update({ ...created, spec: { ...created.spec, run: { ...created.spec.run, port: 4000 } } });
      await rejectsWith(store.update({ ...created, spec: { ...created.spec, run: { ...created.spec.run, port: 5000 } } }), 'STORE_CONFLICT', [
        `your resourceVersion ${created.metadata.resourceVersion}`,
        'read it again',
      ]);
      assert.deepEqual(await store.get('App', 'conflicted'), updated);
    });

    it('update bumps resourceVersion always and generation only when the spec changes', async () => {
      const created = await store.create(appInput('generations'));
      const relabelled = await store.update({ ...created, metadata: { ...created.metadata, labels: { team: 'a' } } });
      assert.equal(relabelled.metadata.generation, 1);
      assert.deepEqual(relabelled.metadata.labels, { team: 'a' });
      assert.ok(Number(relabelled.metadata.resourceVersion) > Number(created.metadata.resourceVersion));
      const respecced = await store.update({ ...relabelled, spec: { ...relabelled.spec, hooks: { postDeploy: ['echo hi'] } } });
      assert.equal(respecced.metadata.generation, 2);
      assert.equal(respecced.metadata.uid, created.metadata.uid);
      assert.equal(respecced.metadata.creationTimestamp, created.metadata.creationTimestamp);
    });

    it('update without a resourceVersion is refused, as the apiserver refuses it for custom resources', async () => {
      const created = await store.create(appInput('unconditional'));
      await rejectsWith(store.update(appInput('unconditional', { run: { port: 9 } })), 'STORE_INVALID', ['metadata.resourceVersion: is required for an update']);
      await rejectsWith(store.updateStatus({ ...appInput('unconditional'), status: { readyReplicas: 1 } }), 'STORE_INVALID', ['read the object first']);
      assert.deepEqual(await store.get('App', 'unconditional'), created);
    });

    it('update of an invalid spec fails and keeps the stored object', async () => {
      const created = await store.create(appInput('stays-valid'));
      await rejectsWith(store.update({ ...created, spec: { autoscale: { minScale: 3, maxScale: 2 } } }), 'STORE_INVALID', [
        'spec.autoscale.maxScale: minScale must not exceed maxScale (2 is less than minScale 3); raise maxScale or lower minScale',
      ]);
      assert.deepEqual(await store.get('App', 'stays-valid'), created);
    });

    it('updateStatus changes status only; update keeps status', async () => {
      const created = await store.create(appInput('with-status'));
      const withStatus = await store.updateStatus({ ...created, spec: { run: { port: 1 } }, status: { url: 'http://with-status.localhost:8080', readyReplicas: 1 } });
      assert.equal(withStatus.status?.url, 'http://with-status.localhost:8080');
      assert.deepEqual(withStatus.spec, created.spec);
      assert.equal(withStatus.metadata.generation, 1);
      const respecced = await store.update({ ...withStatus, spec: { ...withStatus.spec, run: { ...withStatus.spec.run, port: 7 } }, status: {} });
      assert.equal(respecced.status?.readyReplicas, 1);
      await rejectsWith(store.updateStatus({ ...respecced, status: { readyReplicas: -1 } }), 'STORE_INVALID', ['status.readyReplicas: -1 is below the minimum 0']);
      await rejectsWith(store.updateStatus({ ...withStatus, status: { readyReplicas: 2 } }), 'STORE_CONFLICT');
      assert.deepEqual(await store.get('App', 'with-status'), respecced);
    });

    it("a Revision's spec cannot change, its labels can", async () => {
      const revision = await store.create(revisionInput('immutable-00001', 'immutable'));
      await rejectsWith(store.update({ ...revision, spec: { ...revision.spec, commit: 'b'.repeat(40) } }), 'STORE_IMMUTABLE', ['spec is immutable']);
      const relabelled = await store.update({ ...revision, metadata: { ...revision.metadata, labels: { extra: 'yes' } } });
      assert.deepEqual(relabelled.metadata.labels, { extra: 'yes' });
      assert.equal(relabelled.spec.commit, 'a'.repeat(40));
    });

    it('list is sorted by name and filters by namespace and labels', async () => {
      await store.create(appInput('list-b', {}, { tier: 'web' }));
      await store.create(appInput('list-a', {}, { tier: 'web' }));
      await store.create(appInput('list-c', {}, { tier: 'worker' }));
      await store.create({ ...appInput('list-d', {}, { tier: 'web' }), metadata: { name: 'list-d', namespace: 'other', labels: { tier: 'web' } } });
      const web = await store.list('App', { namespace: 'default', labelSelector: { tier: 'web' } });
      assert.deepEqual(web.map((a) => a.metadata.name), ['list-a', 'list-b']);
      const everywhere = await store.list('App', { labelSelector: { tier: 'web' } });
      assert.deepEqual(everywhere.map((a) => `${a.metadata.namespace}/${a.metadata.name}`), ['default/list-a', 'default/list-b', 'other/list-d']);
    });

    it('delete returns the object and removes it; deleting again is STORE_NOT_FOUND', async () => {
      const created = await store.create(appInput('short-lived'));
      const deleted = await store.delete('App', 'short-lived');
      assert.equal(deleted.metadata.uid, created.metadata.uid);
      assert.equal(await store.find('App', 'short-lived'), undefined);
      await rejectsWith(store.delete('App', 'short-lived'), 'STORE_NOT_FOUND');
    });

    it('resourceVersions increase across kinds', async () => {
      const app = await store.create(appInput('ordered'));
      const revision = await store.create(revisionInput('ordered-00001', 'ordered'));
      assert.ok(Number(revision.metadata.resourceVersion) > Number(app.metadata.resourceVersion));
    });

    it('watch starts with ADDED for what exists, then reports changes in order', async () => {
      await store.create(appInput('watched-existing', {}, { watch: 'yes' }));
      const abort = new AbortController();
      const next = eventReader(store.watch('App', { labelSelector: { watch: 'yes' }, signal: abort.signal }));
      const initial = await next();
      assert.equal(initial.type, 'ADDED');
      assert.equal(initial.object.metadata.name, 'watched-existing');
      const created = await store.create(appInput('watched-new', {}, { watch: 'yes' }));
      await store.create(appInput('watched-unlabelled'));
      const updated = await store.updateStatus({ ...created, status: { readyReplicas: 3 } });
      await store.delete('App', 'watched-new');
      const events: WatchEvent<unknown>[] = [await next(), await next(), await next()];
      assert.deepEqual(
        events.map((e) => `${e.type} ${(e.object as { metadata: { name: string } }).metadata.name}`),
        ['ADDED watched-new', 'MODIFIED watched-new', 'DELETED watched-new'],
      );
      assert.equal((events[1]?.object as typeof updated | undefined)?.status?.readyReplicas, 3);
      abort.abort();
    });

    it('a watch sees objects enter and leave its label selector, and a delete then re-create', async () => {
      const labels = (tier: string) => ({ suite: 'moving', tier });
      const created = await store.create(appInput('moving', {}, labels('worker')));
      await store.create(appInput('moving-sentinel', {}, labels('web')));
      const abort = new AbortController();
      const next = eventReader(store.watch('App', { labelSelector: labels('web'), signal: abort.signal }));
      // The sentinel's ADDED proves the watch is in place before the changes start.
      assert.equal((await next()).object.metadata.name, 'moving-sentinel');
      const toWeb = await store.update({ ...created, metadata: { ...created.metadata, labels: labels('web') } });
      const toWorker = await store.update({ ...toWeb, metadata: { ...toWeb.metadata, labels: labels('worker') } });
      await store.update({ ...toWorker, metadata: { ...toWorker.metadata, labels: labels('web') } });
      const deleted = await store.delete('App', 'moving');
      await store.create(appInput('moving', {}, labels('web')));
      const seen: string[] = [];
      for (let i = 0; i < 5; i++) {
        const event = await next();
        seen.push(`${event.type} ${event.object.metadata.name} ${event.object.metadata.labels?.tier}`);
        if (i === 3) assert.equal(event.object.metadata.resourceVersion, deleted.metadata.resourceVersion, 'DELETED carries the deletion version');
      }
      // Leaving the selector is a DELETED of the last state that matched (the apiserver's way).
      assert.deepEqual(seen, ['ADDED moving web', 'DELETED moving web', 'ADDED moving web', 'DELETED moving web', 'ADDED moving web']);
      abort.abort();
    });

    it('watch events are frozen, so one consumer cannot change what another sees', async () => {
      await store.create(appInput('frozen', {}, { frozen: 'yes' }));
      const abort = new AbortController();
      const next = eventReader(store.watch('App', { labelSelector: { frozen: 'yes' }, signal: abort.signal }));
      const event = await next();
      assert.throws(() => {
        (event.object.spec.run as { port?: number }).port = 1;
      }, TypeError);
      abort.abort();
    });

    it('every method refuses a name or namespace that is not a DNS label, touching nothing', async () => {
      for (const name of ['../../etc/passwd', 'a/b', 'UPPER', '']) {
        await rejectsWith(store.get('App', name), 'STORE_INVALID', ['is not a valid name']);
        await rejectsWith(store.find('App', name), 'STORE_INVALID');
        await rejectsWith(store.delete('App', name), 'STORE_INVALID');
      }
      await rejectsWith(store.list('App', { namespace: '../x' }), 'STORE_INVALID', ['is not a valid namespace']);
      await rejectsWith(store.get('App', 'fine', '..'), 'STORE_INVALID', ['is not a valid namespace']);
    });

    it('an App may not claim a host another App has, nor one Dormant keeps; the owner keeps its host (store opened for domain localhost)', async () => {
      const owner = await store.create(appInput('hosts-owner', { routes: { hosts: ['shop.example.com'] } }));
      await rejectsWith(store.create(appInput('hosts-thief', { routes: { hosts: ['shop.example.com'] } })), 'STORE_HOST_TAKEN', [
        'App "hosts-thief" cannot claim host shop.example.com: app hosts-owner already serves it',
      ]);
      assert.equal(await store.find('App', 'hosts-thief'), undefined);
      const other = await store.create(appInput('hosts-other'));
      await rejectsWith(store.update({ ...other, spec: { ...other.spec, routes: { hosts: ['fine.example.com', 'hosts-owner.localhost'] } } }), 'STORE_HOST_TAKEN', [
        'host hosts-owner.localhost: it is the address of app hosts-owner',
      ]);
      await rejectsWith(store.create(appInput('hosts-root', { routes: { hosts: ['localhost'] } })), 'STORE_HOST_RESERVED', ['cannot claim host localhost']);
      assert.deepEqual(await store.get('App', 'hosts-other'), other);
      assert.deepEqual(await store.get('App', 'hosts-owner'), owner);
    });

    it("a peer's writes reach this client's watch and reads", async () => {
      const peer = await subject.openPeer();
      try {
        const abort = new AbortController();
        const next = eventReader(store.watch('App', { labelSelector: { peer: 'yes' }, signal: abort.signal }));
        await peer.create(appInput('from-peer', {}, { peer: 'yes' }));
        const event = await next();
        assert.equal(`${event.type} ${event.object.metadata.name}`, 'ADDED from-peer');
        assert.equal((await store.get('App', 'from-peer')).metadata.uid, event.object.metadata.uid);
        await peer.delete('App', 'from-peer');
        assert.equal((await next()).type, 'DELETED');
        abort.abort();
      } finally {
        await peer.close();
      }
    });
  });
}
