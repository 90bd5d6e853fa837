// The loop around the decider, on a real store, with a fake clock and a runtime stand-in
// that records setScale (the local runtime's own behaviour is tested in runtime/ and test/).
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { type App, apiVersion } from '../crds/index.js';
import { type Endpoint, LocalStore } from '../runtime/index.js';
import { ScalingLoop, type ScalingRuntime } from './scaling-loop.js';

class RecordingRuntime implements ScalingRuntime {
  readonly calls: string[] = [];
  ready = new Map<string, number>();
  /** The ready replicas the loop has taken in, per app. */
  readonly #taken = new Map<string, number>();
  readonly #events = new EventEmitter();
  async setScale(app: string, replicas: number): Promise<void> {
    this.calls.push(`${app}=${replicas}`);
    this.ready.set(app, replicas);
    this.#events.emit('change');
  }
  async *endpoints(app: string, signal?: AbortSignal): AsyncIterable<readonly Endpoint[]> {
    let sent: number | undefined;
    while (!signal?.aborted) {
      const count = this.ready.get(app) ?? 0;
      if (count === sent) {
        await once(this.#events, 'change', signal ? { signal } : {}).catch(() => {});
        continue;
      }
      yield Array.from({ length: count }, (_, i) => ({ id: `${app}-${i}`, address: `127.0.0.1:${i}`, ready: true, draining: false }));
      // The loop asks for the next list once it has taken this one in.
      sent = count;
      this.#taken.set(app, count);
      this.#events.emit('change');
    }
  }
  /** Until setScale has been called `count` times in all (an AbortError after 5 s). */
  async called(count: number): Promise<void> {
    const deadline = AbortSignal.timeout(5000);
    while (this.calls.length < count) await once(this.#events, 'change', { signal: deadline });
  }
  /** Until the loop has taken in `count` ready replicas of app (an AbortError after 5 s). */
  async taken(app: string, count: number): Promise<void> {
    const deadline = AbortSignal.timeout(5000);
    while (this.#taken.get(app) !== count) await once(this.#events, 'change', { signal: deadline });
  }
}

/** Waits for the stored App to match, through the store's watch. */
async function appWhere(store: LocalStore, name: string, predicate: (app: App) => boolean, timeoutMs = 5000): Promise<App> {
  let last: App | undefined;
  try {
    for await (const event of store.watch('App', { signal: AbortSignal.timeout(timeoutMs) })) {
      if (event.object.metadata.name !== name) continue;
      last = event.object;
      if (predicate(event.object)) return event.object;
    }
  } catch (error) {
    if ((error as Error).name !== 'TimeoutError' && (error as Error).name !== 'AbortError') throw error;
  }
  throw new Error(`App ${name} never matched within ${timeoutMs} ms; last status: ${JSON.stringify(last?.status)}`);
}

const closers: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const close of closers) await close();
});

async function setup(apps: Record<string, Record<string, unknown>>, defaultPolicy?: Record<string, unknown>) {
  const stateDir = await mkdtemp(join(tmpdir(), 'dormant-loop-'));
  const store = await LocalStore.open({ stateDir });
  if (defaultPolicy) await store.create({ apiVersion, kind: 'AutoscalePolicy', metadata: { name: 'default' }, spec: defaultPolicy });
  for (const [name, spec] of Object.entries(apps)) await store.create({ apiVersion, kind: 'App', metadata: { name }, spec });
  const runtime = new RecordingRuntime();
  let now = 1_000_000;
  const loop = new ScalingLoop({ store, runtime, log: pino({ level: 'silent' }), clock: () => now, tickMs: 3_600_000 });
  await loop.start();
  closers.push(async () => {
    loop.close();
    await store.close();
    await rm(stateDir, { recursive: true, force: true });
  });
  return { store, runtime, loop, advance: (ms: number) => (now += ms) };
}

describe('ScalingLoop', () => {
  it('a poke at zero scales up at once, without waiting for a tick', async () => {
    const { runtime, loop } = await setup({ quick: {} });
    loop.poke('quick');
    await runtime.called(1);
    assert.deepEqual(runtime.calls, ['quick=1']);
  });

  it("the namespace's default policy applies to apps without one of their own", async () => {
    const { runtime, loop } = await setup({ plain: {}, own: { autoscale: { activationScale: 3 } } }, { activationScale: 2 });
    loop.poke('plain');
    loop.poke('own');
    await runtime.called(2);
    assert.deepEqual(runtime.calls.sort(), ['own=3', 'plain=2']);
  });

  it('load reported by two activators is summed and raises the scale', async () => {
    const { runtime, loop, advance } = await setup({ busy: {} });
    loop.poke('busy');
    await runtime.taken('busy', 1);
    for (let second = 0; second < 6; second++) {
      advance(1000);
      // Two activators, 150 concurrent each: 300 against 70 per replica.
      loop.report([{ app: 'busy', averageConcurrency: 150, requests: 150, windowMs: 1000 }]);
      loop.report([{ app: 'busy', averageConcurrency: 150, requests: 150, windowMs: 1000 }]);
    }
    await loop.tick();
    assert.equal(runtime.calls.at(-1), 'busy=5', `${runtime.calls.join(', ')}; ${loop.describe('busy')?.reason}`);
    assert.match(loop.describe('busy')?.reason ?? '', /^panic: 300 concurrent/);
  });

  it('records the reason in the App status', async () => {
    const { store, loop } = await setup({ noted: {} });
    loop.poke('noted');
    // The status write goes through the store's lock and fsync: wait for it through the store's watch.
    const status = (await appWhere(store, 'noted', (app) => app.status?.conditions?.some((c) => c.type === 'Autoscaled') === true)).status;
    const condition = status?.conditions?.find((c) => c.type === 'Autoscaled');
    assert.equal(condition?.message, '1 replica: wake from zero (request waiting) -> 1');
    // The poke is a request: dormant apps shows when the last one came (the fake clock's time).
    assert.equal(status?.lastRequestTime, '1970-01-01T00:16:40Z');
  });

  it('ticks whose reason only changes its running figures write no status: the decision did not change', async () => {
    const { store, runtime, loop, advance } = await setup({ steady: {} });
    loop.poke('steady');
    await runtime.taken('steady', 1);
    const written = await appWhere(store, 'steady', (app) => app.status?.conditions?.some((c) => c.type === 'Autoscaled') === true);
    const reasons = new Set<string>();
    for (let second = 0; second < 5; second++) {
      advance(1000);
      loop.report([{ app: 'steady', averageConcurrency: 1, requests: 1, windowMs: 1000 }]);
      await loop.tick();
      reasons.add(loop.describe('steady')?.reason ?? '');
    }
    assert.ok(reasons.size > 1, `the reason's figures moved: ${[...reasons].join(' | ')}`);
    assert.deepEqual(runtime.calls, ['steady=1'], 'the scale stayed');
    // With 1,000 apps, writing each changed message made every tick write every app, forever.
    assert.equal((await store.find('App', 'steady'))?.metadata.resourceVersion, written.metadata.resourceVersion, 'no status write while the decision stayed');
  });
});
