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
  async currentScale(app: string): Promise<number> {
    return this.ready.get(app) ?? 0;
  }
  /** Sets the replicas an app has, as a previous autoscaler left them. */
  left(app: string, replicas: number): void {
    this.ready.set(app, replicas);
    this.#events.emit('change');
  }
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

async function setup(apps: Record<string, Record<string, unknown>>, defaultPolicy?: Record<string, unknown>, acting?: () => boolean) {
  const stateDir = await mkdtemp(join(tmpdir(), 'dormant-loop-'));
  const store = await LocalStore.open({ stateDir });
  if (defaultPolicy) await store.create({ apiVersion, kind: 'AutoscalePolicy', metadata: { name: 'default' }, spec: defaultPolicy });
  for (const [name, spec] of Object.entries(apps)) await store.create({ apiVersion, kind: 'App', metadata: { name }, spec });
  const runtime = new RecordingRuntime();
  let now = 1_000_000;
  const loop = new ScalingLoop({ store, runtime, log: pino({ level: 'silent' }), clock: () => now, tickMs: 3_600_000, ...(acting ? { acting } : {}) });
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

describe('ScalingLoop: an app a round leaves out decides as one reported with zero load', () => {
  // Two loops over the same apps and the same load. One is fed as activators reported before
  // rounds: every app every second, zeros included (report). The other is fed rounds that
  // name only the apps with load. Their decisions must be the same at every step, first
  // decisions included (a loop just started, and a standby taking over), where the start of
  // an app's reports is read.
  const apps = { busy: {}, quiet: {}, trickle: {}, kept: { autoscale: { minScale: 1 } } };
  const loadAt = (app: string, second: number): { averageConcurrency: number; requests: number } => {
    if (app === 'busy' && ((second >= 10 && second < 40) || (second >= 150 && second < 170))) return { averageConcurrency: 150, requests: 150 };
    if (app === 'trickle' && (second === 50 || second === 51 || second === 131)) return { averageConcurrency: 0.2, requests: 1 };
    return { averageConcurrency: 0, requests: 0 };
  };
  const rows = [
    { name: 'acting from its start: first decisions on its first tick and on pokes', takeOverAtS: 0 },
    { name: 'standing by for 90 s, then taking over apps a previous autoscaler left at busy=2, quiet=1, trickle=1, kept=1', takeOverAtS: 90 },
  ];
  for (const row of rows) {
    it(row.name, async () => {
      let acting = row.takeOverAtS === 0;
      const zeros = await setup(apps, undefined, () => acting);
      const rounds = await setup(apps, undefined, () => acting);
      const both = [zeros, rounds];
      const settled = async () => {
        for (const { runtime } of both) for (const app of Object.keys(apps)) await runtime.taken(app, runtime.ready.get(app) ?? 0);
      };
      const decisions = (h: typeof zeros) => Object.keys(apps).map((app) => `${app}: ${JSON.stringify(h.loop.describe(app))}`);
      for (let second = 1; second <= 240; second++) {
        if (second === row.takeOverAtS) {
          acting = true;
          for (const { runtime } of both) for (const [app, replicas] of Object.entries({ busy: 2, quiet: 1, trickle: 1, kept: 1 })) runtime.left(app, replicas);
          await settled();
          for (const { loop } of both) await loop.adopt();
        }
        for (const { advance } of both) advance(1000);
        const stats = Object.keys(apps).map((app) => ({ app, ...loadAt(app, second - 1), windowMs: 1000 }));
        zeros.loop.report(stats);
        rounds.loop.round(stats.filter((s) => s.averageConcurrency > 0 || s.requests > 0));
        // A request that finds busy at zero: the activator pokes.
        if (acting && loadAt('busy', second).requests > 0 && (zeros.runtime.ready.get('busy') ?? 0) === 0) {
          const before = both.map(({ runtime }) => runtime.calls.length);
          for (const { loop } of both) loop.poke('busy');
          for (const [i, { runtime }] of both.entries()) await runtime.called((before[i] ?? 0) + 1);
          await settled();
        }
        if (second % 2 === 0) {
          for (const { loop } of both) await loop.tick();
          await settled();
          assert.deepEqual(decisions(rounds), decisions(zeros), `at ${second} s`);
        }
      }
      assert.deepEqual(rounds.runtime.calls, zeros.runtime.calls);
      // Not a case where nothing happens: busy went up and back to zero, quiet and trickle to zero.
      assert.ok(zeros.runtime.calls.includes('busy=0') && zeros.runtime.calls.some((c) => /^busy=[2-9]/.test(c)), zeros.runtime.calls.join(', '));
      assert.ok(zeros.runtime.calls.includes('trickle=0'), zeros.runtime.calls.join(', '));
      // A standby's history of zeros lets it scale an idle app to zero at once; read as no history, it would wait a stable window.
      if (row.takeOverAtS > 0) assert.equal(zeros.runtime.calls.find((c) => c.startsWith('quiet=')), 'quiet=0');
    });
  }
});
