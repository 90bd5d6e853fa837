// The namespace's `default` AutoscalePolicy reaches the activator's limits, over real sockets.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { apiVersion } from '../crds/index.js';
import { LocalStore, type ObjectInput } from '../runtime/index.js';
import { Activator } from './activator.js';
import { arrivals, call, endpoint, eventWaitBound, ManualEndpoints, RecordingSink, replica } from './test-support.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A store holding these objects before the activator starts, and the activator over it. */
async function activatorOver(objects: readonly ObjectInput[]) {
  const stateDir = await mkdtemp(join(tmpdir(), 'dormant-activator-policy-'));
  const store = await LocalStore.open({ stateDir });
  for (const object of objects) await store.create(object);
  const endpoints = new ManualEndpoints();
  const registry = new Registry();
  const activator = new Activator({ store, endpoints, stats: new RecordingSink(), log: pino({ level: 'silent' }), registry, domain: 'localhost', port: 0 });
  const port = await activator.start();
  cleanups.push(async () => {
    await activator.close();
    await store.close();
    await rm(stateDir, { recursive: true, force: true });
  });
  return { port, store, endpoints, registry };
}

const app = (name: string, spec: Record<string, unknown> = {}): ObjectInput => ({ apiVersion, kind: 'App', metadata: { name }, spec });
const policy = (name: string, spec: Record<string, unknown>): ObjectInput => ({ apiVersion, kind: 'AutoscalePolicy', metadata: { name }, spec });

describe('activator and the namespace default policy', eventWaitBound, () => {
  it("an app without a policyRef is held to the default policy's queueDepth; another app keeps serving", async () => {
    const h = await activatorOver([policy('default', { queueDepth: 2 }), app('small'), app('busy', { autoscale: { queueDepth: 50 } })]);
    const served = await replica((_req, res) => res.end('busy ok'));
    cleanups.push(async () => {
      served.server.closeAllConnections();
      served.server.close();
    });
    await h.endpoints.set('busy', [endpoint('b1', served.address)]);
    const arrived = arrivals(h.port, 2);
    const held = [call(h.port, 'small.localhost'), call(h.port, 'small.localhost')];
    await arrived;
    // Held instead of refused would wait the whole hold timeout: give up sooner.
    const rejected = await call(h.port, 'small.localhost', '/', { signal: AbortSignal.timeout(10_000) });
    assert.equal(rejected.status, 503, rejected.body);
    assert.equal(rejected.headers['x-dormant-error'], 'ACTIVATOR_QUEUE_FULL');
    assert.match(rejected.body, /small is busy: 2 requests are already waiting for it/);
    const other = await call(h.port, 'busy.localhost');
    assert.equal(other.status, 200);
    assert.equal(other.body, 'busy ok');
    const late = await replica((_req, res) => res.end('small ok'));
    cleanups.push(async () => {
      late.server.closeAllConnections();
      late.server.close();
    });
    h.endpoints.set('small', [endpoint('s1', late.address)]);
    assert.deepEqual((await Promise.all(held)).map((a) => a.status), [200, 200], 'the held requests are answered');
  });

  it("an app with a policyRef is not held to the default policy's containerConcurrency", async () => {
    const h = await activatorOver([policy('default', { containerConcurrency: 1 }), policy('open', { target: 50 }), app('serial'), app('parallel', { autoscale: { policyRef: 'open' } })]);
    const peaks = new Map<string, { inFlight: number; peak: number }>();
    const applied: Promise<void>[] = [];
    for (const name of ['serial', 'parallel']) {
      const seen = { inFlight: 0, peak: 0 };
      peaks.set(name, seen);
      const waiting: (() => void)[] = [];
      const r = await replica((_req, res) => {
        seen.inFlight++;
        seen.peak = Math.max(seen.peak, seen.inFlight);
        const answer = () => {
          seen.inFlight--;
          res.end('ok');
        };
        // Each answer waits until a second request is in flight (then both go), or a while
        // (short where one at a time is expected): parallel requests show without depending on
        // timing. The timer is that bound, not a wait for something to change.
        const timer = setTimeout(() => {
          const at = waiting.indexOf(release);
          if (at >= 0) waiting.splice(at, 1);
          answer();
        }, name === 'serial' ? 100 : 5000);
        const release = () => {
          clearTimeout(timer);
          answer();
        };
        waiting.push(release);
        if (seen.inFlight >= 2) for (let next = waiting.shift(); next; next = waiting.shift()) next();
      });
      cleanups.push(async () => {
        r.server.closeAllConnections();
        r.server.close();
      });
      applied.push(h.endpoints.set(name, [endpoint(`${name}-1`, r.address)]));
    }
    await Promise.all(applied);
    for (const name of ['serial', 'parallel']) {
      const answers = await Promise.all(Array.from({ length: 4 }, () => call(h.port, `${name}.localhost`)));
      assert.deepEqual([...new Set(answers.map((a) => a.status))], [200]);
    }
    assert.equal(peaks.get('serial')?.peak, 1, 'the default policy limits the app without a policyRef to one request at a time');
    assert.ok((peaks.get('parallel')?.peak ?? 0) > 1, 'the app with its own policy is not limited by the default one');
  });
});
