// The local runtime with real processes: a small Node HTTP app, started, probed, scaled,
// drained, rolled, crashed and killed for real.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFile, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { App } from '../../crds/index.js';
import { isDormantError } from '../../errors/index.js';
import { LocalStore } from '../local-store/local-store.js';
import { isRunning } from '../../state-folder/index.js';
import type { Endpoint } from '../runtime.js';
import { processesWithEnv, untilNoneWithEnv } from '../../lifetime/test-support.js';
import { LocalRuntime } from './local-runtime.js';
import { freePort } from './replica-process.js';
import { supervisorId, supervisorVariable } from './orphans.js';
import { deployFixture } from './test-fixtures/fixture-app.js';

const silent = pino({ level: 'silent' });
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

async function setup(options: { backoffBaseMs?: number } = {}) {
  const stateDir = await mkdtemp(join(tmpdir(), 'dormant-runtime-'));
  const store = await LocalStore.open({ stateDir });
  const runtime = new LocalRuntime({
    stateDir,
    store,
    log: silent,
    restartBackoff: { baseMs: options.backoffBaseMs ?? 100, maxMs: 2000, resetAfterMs: 60_000 },
    terminationGraceMs: 2000,
    statusDelayMs: 5,
  });
  await runtime.start();
  cleanups.push(async () => {
    await runtime.close();
    await store.close();
    await rm(stateDir, { recursive: true, force: true });
  });
  return { stateDir, store, runtime };
}

/** Reads the endpoints watch until predicate holds; fails after timeoutMs. */
async function endpointsWhere(runtime: LocalRuntime, app: string, predicate: (e: readonly Endpoint[]) => boolean, timeoutMs = 10_000): Promise<readonly Endpoint[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  let last: readonly Endpoint[] = [];
  try {
    for await (const endpoints of runtime.endpoints(app, abort.signal)) {
      last = endpoints;
      if (predicate(endpoints)) return endpoints;
    }
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  throw new Error(`endpoints of ${app} never matched; last: ${JSON.stringify(last)}`);
}

/** Waits for the stored App to match, through the store's watch. */
async function appWhere(store: LocalStore, name: string, predicate: (app: App) => boolean, timeoutMs = 10_000): Promise<App> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  let last: App | undefined;
  try {
    for await (const event of store.watch('App', { signal: abort.signal })) {
      if (event.object.metadata.name !== name) continue;
      last = event.object;
      if (predicate(event.object)) return event.object;
    }
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  throw new Error(`App ${name} never matched; last status: ${JSON.stringify(last?.status)}`);
}

async function get(address: string, path = '/'): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://${address}${path}`);
  return { status: response.status, body: await response.text() };
}

const alive = (pid: number | undefined): boolean => pid !== undefined && isRunning(pid);

/**
 * For replicas of another process (a Dormant the test killed): Node has no event for the
 * death of a process that is not its child, so this one polls, every 10 ms, bounded.
 * The runtime's own replicas are waited for through the endpoints instead: a replica
 * leaves them when its process has exited.
 */
async function untilDead(pids: readonly (number | undefined)[], timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (pids.some(alive)) {
    if (performance.now() > deadline) assert.fail(`still alive after ${timeoutMs} ms: ${pids.filter(alive).join(', ')}`);
    await sleep(10);
  }
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/** Wakes waiters on every notify(); until() resolves once check holds and fails, naming what, after timeoutMs. */
function changes() {
  const waiters = new Set<() => void>();
  return {
    notify: () => {
      for (const wake of [...waiters]) wake();
    },
    until: (what: string, check: () => boolean, timeoutMs = 10_000) =>
      new Promise<void>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(wake);
        };
        const wake = () => {
          if (!check()) return;
          done();
          resolve();
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${what}: not within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(wake);
        wake();
      }),
  };
}

/** Resolves when the app started by hand (ANNOUNCE_LISTENING=1) prints that it listens. */
function listening(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the app did not say it listens within ${timeoutMs} ms: ${out}`)), timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (/^listening$/m.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`the app exited (${code}) before it listened: ${out}`)));
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

describe('LocalRuntime with real processes', () => {
  it('a wake-up from zero costs at most a small multiple of starting the app by hand', async (t: TestContext) => {
    const { store, runtime } = await setup();
    const { app, revision } = await deployFixture(store, { app: 'coldstart', revision: 'coldstart-00001', env: { VERSION: 'v1' } });
    await runtime.rollout(app, revision);
    const byHand: number[] = [];
    const throughRuntime: number[] = [];
    const replicasSeen = new Set<string>();
    for (let i = 0; i < 5; i++) {
      // A port found free (a random one was at times another test's: the app then exited before it listened).
      const port = await freePort();
      const started = performance.now();
      const child = spawn(process.execPath, ['server.js'], { cwd: revision.spec.releaseDir ?? '', env: { PORT: String(port), PATH: process.env.PATH ?? '', ANNOUNCE_LISTENING: '1' }, stdio: ['ignore', 'pipe', 'ignore'] });
      await listening(child);
      byHand.push(performance.now() - started);
      assert.equal(await tcpOpen(port), true, 'the app listened when it said so');
      child.kill('SIGKILL');

      const wake = performance.now();
      await runtime.setScale('coldstart', 1);
      const [endpoint] = await endpointsWhere(runtime, 'coldstart', (e) => e.some((x) => x.ready));
      const readyMs = performance.now() - wake;
      const answer = await get(endpoint?.address ?? '');
      throughRuntime.push(performance.now() - wake);
      assert.equal(answer.status, 200);
      assert.ok(!replicasSeen.has(answer.body), 'each wake-up starts a new replica');
      replicasSeen.add(answer.body);
      t.diagnostic(`run ${i + 1}: by hand ${byHand.at(-1)?.toFixed(1)} ms to listening; runtime ${readyMs.toFixed(1)} ms to ready, ${throughRuntime.at(-1)?.toFixed(1)} ms to first response`);
      await runtime.setScale('coldstart', 0);
      await endpointsWhere(runtime, 'coldstart', (e) => e.length === 0);
    }
    t.diagnostic(`median: app by hand ${median(byHand).toFixed(1)} ms, through the runtime ${median(throughRuntime).toFixed(1)} ms, overhead ${(median(throughRuntime) - median(byHand)).toFixed(1)} ms`);
    // Medians of runs taken in turn, so that load on the machine weighs on both alike. The
    // runtime adds a spawn, a probe every 2 ms and one HTTP request: well under twice the
    // app's own start. Three times plus 300 ms holds on a loaded 2-core machine and still
    // fails a runtime that probes once a second (tried) or waits that long before it spawns.
    const bound = 3 * median(byHand) + 300;
    assert.ok(median(throughRuntime) <= bound, `a wake-up took ${median(throughRuntime).toFixed(0)} ms (median), more than ${bound.toFixed(0)} ms: 3 × the app's own ${median(byHand).toFixed(0)} ms + 300 ms`);
  });

  it('scales 0 -> 3 -> 0: three distinct answering replicas, then none and no process left', async () => {
    const { store, runtime } = await setup();
    const { app, revision } = await deployFixture(store, { app: 'scaler', revision: 'scaler-00001', env: { VERSION: 'v1' } });
    await runtime.rollout(app, revision);
    assert.deepEqual(runtime.describe('scaler').replicas, [], 'a rollout at zero starts nothing');
    await runtime.setScale('scaler', 3);
    const ready = await endpointsWhere(runtime, 'scaler', (e) => e.filter((x) => x.ready).length === 3);
    assert.equal(new Set(ready.map((e) => e.address)).size, 3);
    const bodies = await Promise.all(ready.map((e) => get(e.address)));
    assert.deepEqual(new Set(bodies.map((b) => b.body.split(' ')[1])).size, 3, 'each replica answers as itself');
    const pids = runtime.describe('scaler').replicas.map((r) => r.pid);
    assert.equal(pids.filter(alive).length, 3);
    await appWhere(store, 'scaler', (a) => a.status?.readyReplicas === 3 && a.status.desiredReplicas === 3);

    await runtime.setScale('scaler', 0);
    // A replica leaves the endpoints once its process has exited.
    await endpointsWhere(runtime, 'scaler', (e) => e.length === 0);
    assert.deepEqual(pids.filter(alive), [], 'no replica process left');
    await appWhere(store, 'scaler', (a) => a.status?.readyReplicas === 0 && a.status.desiredReplicas === 0);
  });

  it('verifyAtZero starts one replica of a new revision as a check, then returns to zero; a crashing one fails and the old one stays', async () => {
    const { store, runtime } = await setup();
    const { app, revision } = await deployFixture(store, { app: 'checked', revision: 'checked-00001', env: { VERSION: 'v1' } });
    await runtime.rollout(app, revision, { verifyAtZero: true });
    assert.equal(runtime.describe('checked').revision, 'checked-00001');
    await endpointsWhere(runtime, 'checked', (e) => e.length === 0);
    assert.equal(runtime.describe('checked').desired, 0);

    const broken = await deployFixture(store, { app: 'checked', revision: 'checked-00002', env: { VERSION: 'v2', CRASH: '1' } });
    await assert.rejects(runtime.rollout(broken.app, broken.revision, { verifyAtZero: true }), (error) => isDormantError(error, 'RUNTIME_ROLLOUT_FAILED'));
    assert.equal(runtime.describe('checked').revision, 'checked-00001', 'the previous revision stays');
    await endpointsWhere(runtime, 'checked', (e) => e.length === 0);
  });

  it('draining waits for the request in flight, then stops the replica', async () => {
    const { store, runtime } = await setup();
    const { app, revision } = await deployFixture(store, { app: 'drainer', revision: 'drainer-00001', env: { VERSION: 'v1' } });
    await runtime.rollout(app, revision);
    await runtime.setScale('drainer', 1);
    // Hold the endpoints watch open like the activator does: the runtime then waits for drained().
    const abort = new AbortController();
    const updates = runtime.endpoints('drainer', abort.signal)[Symbol.asyncIterator]();
    let endpoints: readonly Endpoint[] = [];
    while (!endpoints.some((e) => e.ready)) endpoints = (await updates.next()).value ?? [];
    const [endpoint] = endpoints;
    const pid = runtime.describe('drainer').replicas[0]?.pid;
    // In flight before the scale-down or not, it is answered: the process runs until drained().
    const slow = get(endpoint?.address ?? '', '/slow?ms=800');
    await runtime.setScale('drainer', 0);
    while (!endpoints.some((e) => e.draining)) endpoints = (await updates.next()).value ?? [];
    assert.deepEqual(endpoints.map((e) => [e.ready, e.draining]), [[false, true]]);
    const answer = await slow;
    assert.equal(answer.status, 200, 'the request in flight finished');
    assert.ok(alive(pid), 'still running until the activator says it is drained');
    runtime.drained('drainer', endpoint?.id ?? '');
    await endpointsWhere(runtime, 'drainer', (e) => e.length === 0);
    assert.equal(alive(pid), false, 'stopped once drained');
    abort.abort();
  });

  it('a drain that never finishes is cut at the drain timeout', async () => {
    const { store, runtime } = await setup();
    const { app, revision } = await deployFixture(store, { app: 'stuck', revision: 'stuck-00001', env: { VERSION: 'v1' }, drainTimeout: '300ms' });
    await runtime.rollout(app, revision);
    await runtime.setScale('stuck', 1);
    const abort = new AbortController();
    const watching = (async () => {
      for await (const _ of runtime.endpoints('stuck', abort.signal));
    })();
    await endpointsWhere(runtime, 'stuck', (e) => e.some((x) => x.ready));
    const pid = runtime.describe('stuck').replicas[0]?.pid;
    await runtime.setScale('stuck', 0);
    // Nobody calls drained(): the 300 ms drain timeout ends the drain, the replica stops and leaves the endpoints.
    await endpointsWhere(runtime, 'stuck', (e) => e.length === 0, 3000);
    assert.equal(alive(pid), false);
    abort.abort();
    await watching;
  });

  it('a rolling deploy under a request loop answers only 200s, and only the new version afterwards', async () => {
    const { store, runtime } = await setup();
    const v1 = await deployFixture(store, { app: 'rolling', revision: 'rolling-00001', env: { VERSION: 'v1', BOOT_MS: '100' } });
    await runtime.rollout(v1.app, v1.revision);
    await runtime.setScale('rolling', 2);
    await endpointsWhere(runtime, 'rolling', (e) => e.filter((x) => x.ready).length === 2);

    // A minimal activator: least in-flight ready endpoint, and drained() once a draining one is idle.
    let routable: readonly Endpoint[] = [];
    const inFlight = new Map<string, number>();
    const draining = new Set<string>();
    const reportDrained = () => {
      for (const id of draining) if (!inFlight.get(id)) runtime.drained('rolling', id);
    };
    const abort = new AbortController();
    const endpointsChanged = changes();
    const following = (async () => {
      for await (const endpoints of runtime.endpoints('rolling', abort.signal)) {
        routable = endpoints.filter((e) => e.ready && !e.draining);
        for (const e of endpoints) if (e.draining) draining.add(e.id);
        reportDrained();
        endpointsChanged.notify();
      }
    })();
    const answered = changes();
    const statuses: number[] = [];
    const versions: string[] = [];
    const startedAfterRollout: string[] = [];
    let rolledOut = false;
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        const target = [...routable].sort((a, b) => (inFlight.get(a.id) ?? 0) - (inFlight.get(b.id) ?? 0))[0];
        if (!target) {
          // Nothing routable: wait for the endpoints to change, as the activator does.
          await endpointsChanged.until('a routable endpoint', () => routable.length > 0 || stop);
          continue;
        }
        inFlight.set(target.id, (inFlight.get(target.id) ?? 0) + 1);
        const afterRollout = rolledOut;
        try {
          const answer = await get(target.address);
          statuses.push(answer.status);
          versions.push(answer.body.split(' ')[0] ?? '');
          if (afterRollout) startedAfterRollout.push(answer.body.split(' ')[0] ?? '');
        } catch (error) {
          statuses.push(0);
          versions.push(String(error));
        } finally {
          inFlight.set(target.id, (inFlight.get(target.id) ?? 1) - 1);
          reportDrained();
          answered.notify();
        }
      }
    })();
    await answered.until('30 answers before the rollout', () => statuses.length >= 30);
    const v2 = await deployFixture(store, { app: 'rolling', revision: 'rolling-00002', env: { VERSION: 'v2', BOOT_MS: '100' } });
    await runtime.rollout(v2.app, v2.revision);
    rolledOut = true;
    await answered.until('30 answers to requests sent after the rollout returned', () => startedAfterRollout.length >= 30);
    stop = true;
    await loop;
    abort.abort();
    await following;
    assert.ok(statuses.length > 50, `only ${statuses.length} requests were sent`);
    assert.deepEqual([...new Set(statuses)], [200], 'every request answered 200');
    assert.ok(versions.includes('version=v1'));
    assert.ok(startedAfterRollout.length > 10);
    assert.deepEqual([...new Set(startedAfterRollout)], ['version=v2'], 'no request sent after the rollout returned reached v1');
    assert.deepEqual(runtime.describe('rolling').replicas.filter((r) => r.phase === 'ready').map((r) => r.revision), ['rolling-00002', 'rolling-00002']);
  });

  it('a crashing app restarts with growing delays and its last log lines reach the status', async () => {
    // A base large against the app's own boot, which varies by hundreds of ms on a busy machine.
    const { store, runtime } = await setup({ backoffBaseMs: 300 });
    const { app, revision } = await deployFixture(store, { app: 'crasher', revision: 'crasher-00001', env: { VERSION: 'v1', CRASH: '1' } });
    await runtime.rollout(app, revision);
    await runtime.setScale('crasher', 1);
    const failing = await appWhere(store, 'crasher', (a) => a.status?.conditions?.some((c) => c.reason === 'CrashLoopBackOff' && /failure 4/.test(c.message ?? '')) ?? false);
    const condition = failing.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(condition?.status, 'False');
    assert.match(condition?.message ?? '', /exited with code 1 \(failure 4, restarting in 2000 ms\); last log lines:\nstarting crasher-00001-\w+ version=v1\nboom: DATABASE_URL is not set/);
    // Each replica's first line is its start: the gaps between starts grow with the backoff.
    const starts: number[] = [];
    for await (const line of runtime.logs('crasher')) if (line.text.startsWith('starting')) starts.push(Date.parse(line.time));
    assert.ok(starts.length >= 4, `${starts.length} starts`);
    const gaps = starts.slice(1).map((t, i) => t - (starts[i] ?? 0));
    // Backoffs of 300, 600 and 1200 ms: the third gap is 900 ms longer than the first, give or take the boots.
    assert.ok((gaps[2] ?? 0) - (gaps[0] ?? 0) >= 600, `gaps did not grow: ${gaps.join(', ')}`);
    assert.ok((gaps[0] ?? 0) >= 290, `first restart came after ${gaps[0]} ms, before the backoff`);
  });

  it('a failed rollout keeps the old revision serving and says why', async () => {
    const { store, runtime } = await setup();
    const v1 = await deployFixture(store, { app: 'keeper', revision: 'keeper-00001', env: { VERSION: 'v1' } });
    await runtime.rollout(v1.app, v1.revision);
    await runtime.setScale('keeper', 1);
    const [before] = await endpointsWhere(runtime, 'keeper', (e) => e.some((x) => x.ready));
    const bad = await deployFixture(store, { app: 'keeper', revision: 'keeper-00002', env: { VERSION: 'v2', CRASH: '1' } });
    await assert.rejects(runtime.rollout(bad.app, bad.revision), (error: unknown) => {
      assert.ok(isDormantError(error, 'RUNTIME_ROLLOUT_FAILED'), String(error));
      assert.match(error.message, /revision keeper-00002 of keeper did not start: replica keeper-00002-\w+ exited with code 1/);
      assert.match(error.message, /the previous revision keeper-00001 keeps serving/);
      assert.doesNotMatch(error.message, /restarting in/, 'a rejected rollout does not talk of restarts');
      assert.match(error.message, /boom: DATABASE_URL is not set/);
      return true;
    });
    assert.equal(runtime.describe('keeper').revision, 'keeper-00001');
    const [still] = await endpointsWhere(runtime, 'keeper', (e) => e.filter((x) => x.ready).length === 1 && !e.some((x) => x.id.startsWith('keeper-00002')));
    assert.equal(still?.id, before?.id);
    assert.equal((await get(still?.address ?? '')).body.split(' ')[0], 'version=v1');
  });

  it('a replica that never gets ready fails the rollout at its start timeout', async () => {
    const { store, runtime } = await setup();
    const v1 = await deployFixture(store, { app: 'sleepy', revision: 'sleepy-00001', env: { VERSION: 'v1' } });
    await runtime.rollout(v1.app, v1.revision);
    await runtime.setScale('sleepy', 1);
    await endpointsWhere(runtime, 'sleepy', (e) => e.some((x) => x.ready));
    const slow = await deployFixture(store, { app: 'sleepy', revision: 'sleepy-00002', env: { VERSION: 'v2', BOOT_MS: '60000' }, startTimeout: '500ms' });
    await assert.rejects(runtime.rollout(slow.app, slow.revision), /did not become ready within 500ms/);
    const stored = await appWhere(store, 'sleepy', (a) => a.status?.conditions?.some((c) => c.reason === 'StartTimeout') ?? false);
    assert.match(stored.status?.conditions?.[0]?.message ?? '', /did not become ready within 500ms: nothing listened on its port \d+; the app must listen on the port in \$PORT; last log lines:\nstarting sleepy-00002/);
  });

  it('readinessPath: ready only once the app answers below 500 there', async () => {
    const { store, runtime } = await setup();
    const { app, revision } = await deployFixture(store, { app: 'warmup', revision: 'warmup-00001', env: { VERSION: 'v1', UNHEALTHY_MS: '400' }, readinessPath: '/healthz' });
    await runtime.rollout(app, revision);
    const started = performance.now();
    await runtime.setScale('warmup', 1);
    const [endpoint] = await endpointsWhere(runtime, 'warmup', (e) => e.some((x) => x.ready));
    assert.ok(performance.now() - started >= 400, 'not ready while /healthz said 503');
    assert.equal((await get(endpoint?.address ?? '', '/healthz')).status, 200);
  });

  it("replicas get PORT, the app's env and their own HOME, but not Dormant's environment", async () => {
    process.env.DORMANT_TEST_SECRET = 'must-not-leak';
    const { store, runtime } = await setup();
    const { app, revision } = await deployFixture(store, { app: 'envy', revision: 'envy-00001', env: { VERSION: 'v1', GREETING: 'hi' } });
    await runtime.rollout(app, revision);
    await runtime.setScale('envy', 2);
    const endpoints = await endpointsWhere(runtime, 'envy', (e) => e.filter((x) => x.ready).length === 2);
    const seen = await Promise.all(endpoints.map(async (e) => JSON.parse((await get(e.address, '/env')).body) as Record<string, string>));
    for (const [i, env] of seen.entries()) {
      assert.equal(env.PORT, endpoints[i]?.address.split(':')[1]);
      assert.equal(env.GREETING, 'hi');
      assert.equal(env.DORMANT_APP, 'envy');
      assert.equal(env.DORMANT_REVISION, 'envy-00001');
      assert.equal(env.DORMANT_TEST_SECRET, undefined);
      assert.equal(env.cwd, revision.spec.releaseDir);
    }
    assert.notEqual(seen[0]?.HOME, seen[1]?.HOME, 'each replica has its own HOME');
    delete process.env.DORMANT_TEST_SECRET;
  });

  it('logs carry the replica id, filter by time, and follow new lines; the platform’s events are among them', async () => {
    const { store, runtime } = await setup();
    const { app, revision } = await deployFixture(store, { app: 'talker', revision: 'talker-00001', env: { VERSION: 'v1' } });
    await runtime.rollout(app, revision);
    await runtime.setScale('talker', 1, 'a test asks for one');
    await endpointsWhere(runtime, 'talker', (e) => e.some((x) => x.ready));
    const all = await collect(runtime.logs('talker'));
    const events = all.filter((line) => line.stream === 'platform').map((line) => `${line.replica}: ${line.text}`);
    assert.match(events[0] ?? '', /^dormant: Scaling from 0 to 1 replica: a test asks for one$/);
    assert.ok(events.some((event) => /^dormant: Replica talker-00001-\w+ of talker-00001 ready in \d+ ms \(sandbox and process \d+ ms, then the app started and answered in \d+ ms\)$/.test(event)), events.join('\n'));
    const [first] = all.filter((line) => line.stream !== 'platform');
    assert.match(first?.replica ?? '', /^talker-00001-\w+$/);
    assert.equal(first?.stream, 'stdout');
    assert.match(first?.text ?? '', /^starting talker-00001-\w+ version=v1$/);
    assert.deepEqual(await collect(runtime.logs('talker', { sinceMs: Date.now() + 60_000 })), []);
    const abort = new AbortController();
    const followed: string[] = [];
    const following = (async () => {
      for await (const line of runtime.logs('talker', { follow: true, sinceMs: Date.now(), signal: abort.signal })) {
        if (line.stream === 'platform') continue;
        followed.push(line.text);
        if (line.text.startsWith('SIGTERM')) abort.abort();
      }
    })();
    // No need to wait for the follower to be in place: it reads the file from its start, keeping lines from sinceMs on.
    await runtime.setScale('talker', 0);
    await following;
    assert.deepEqual(followed, ['SIGTERM: closing']);
  });

  it('deleting the App stops its replicas and forgets its revision', async () => {
    const { store, runtime } = await setup();
    const { app, revision } = await deployFixture(store, { app: 'doomed', revision: 'doomed-00001', env: { VERSION: 'v1' } });
    await runtime.rollout(app, revision);
    await runtime.setScale('doomed', 2);
    await endpointsWhere(runtime, 'doomed', (e) => e.filter((x) => x.ready).length === 2);
    const pids = runtime.describe('doomed').replicas.map((r) => r.pid);
    await store.delete('App', 'doomed');
    await endpointsWhere(runtime, 'doomed', (e) => e.length === 0);
    assert.deepEqual(pids.filter(alive), [], 'no replica process left');
    assert.equal(runtime.describe('doomed').revision, undefined);
    await assert.rejects(runtime.setScale('doomed', 1), (e: unknown) => isDormantError(e, 'RUNTIME_NO_REVISION'));
  });

  it('a rollout is not passed untested when the app is scaled to zero during it', async () => {
    const { store, runtime } = await setup();
    const v1 = await deployFixture(store, { app: 'proven', revision: 'proven-00001', env: { VERSION: 'v1' } });
    await runtime.rollout(v1.app, v1.revision);
    await runtime.setScale('proven', 1);
    await endpointsWhere(runtime, 'proven', (e) => e.some((x) => x.ready));
    const never = await deployFixture(store, { app: 'proven', revision: 'proven-00002', env: { VERSION: 'v2', BOOT_MS: '60000' }, startTimeout: '800ms' });
    const rolling = runtime.rollout(never.app, never.revision);
    await endpointsWhere(runtime, 'proven', (e) => e.some((x) => x.id.startsWith('proven-00002')));
    await runtime.setScale('proven', 0);
    await assert.rejects(rolling, /did not become ready within 800ms/);
    assert.equal(runtime.describe('proven').revision, 'proven-00001');
  });

  it('refuses what it cannot run, and changes nothing', async () => {
    const { stateDir, store, runtime } = await setup();
    await assert.rejects(runtime.setScale('ghost', 1), (e: unknown) => isDormantError(e, 'RUNTIME_NO_REVISION') && /git push to deploy it first/.test(e.message));
    const noCommand = await deployFixture(store, { app: 'broken', revision: 'broken-00001' });
    await assert.rejects(runtime.rollout(noCommand.app, { ...noCommand.revision, spec: { ...noCommand.revision.spec, run: { ...noCommand.revision.spec.run, command: [] } } }), (e: unknown) => isDormantError(e, 'RUNTIME_NO_COMMAND') && /add a Procfile/.test(e.message));
    const gone = await deployFixture(store, { app: 'broken', revision: 'broken-00002', releaseDir: join(stateDir, 'releases', 'broken', 'broken-00002') });
    await assert.rejects(runtime.rollout(gone.app, gone.revision), (e: unknown) => isDormantError(e, 'RUNTIME_NO_RELEASE') && /push again to rebuild it/.test(e.message));
    assert.equal(runtime.describe('broken').revision, undefined);
    assert.deepEqual(runtime.describe('broken').replicas, []);
  });
});

describe('LocalRuntime status writes', () => {
  // Found by the Runtime contract (runtime/runtime-contract.ts): its scale case saw, under
  // load, readyReplicas stay at 1 of 3 ready replicas. #writeStatus computes what to write
  // once, before it reads the App, and nothing stops a second write from starting while
  // the first still waits for the store: a slow first write lands last, with what was
  // true before, and as nothing changes after it, the stale status stays. Here the first
  // status read is held (a slow store, made by holding one call: the fault cannot be
  // caused on demand with a real disk) until the replica is ready and its status written.
  // The Kubernetes runtime has one writer per app that reads the state at each attempt.
  it('a status write that waited for a slow store does not leave an older state behind', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'dormant-runtime-'));
    const store = await LocalStore.open({ stateDir });
    let releaseFirstRead: () => void = () => {};
    const firstReadHeld = new Promise<void>((resolve) => {
      releaseFirstRead = resolve;
    });
    let reads = 0;
    let released = false;
    let firstWriteAfterRelease: (() => void) | undefined;
    const writtenAfterRelease = new Promise<void>((resolve) => {
      firstWriteAfterRelease = resolve;
    });
    // The store the runtime sees: the same LocalStore, whose first find (the first status write's read) answers only when released.
    const slowStore = new Proxy(store, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (property === 'find') {
          return (...args: Parameters<LocalStore['find']>) => {
            if (reads++ > 0) return target.find(...args);
            return firstReadHeld.then(() => target.find(...args));
          };
        }
        if (property === 'updateStatus') {
          return (...args: Parameters<LocalStore['updateStatus']>) => {
            const write = target.updateStatus(...args);
            if (released) void write.finally(() => firstWriteAfterRelease?.()).catch(() => {});
            return write;
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const runtime = new LocalRuntime({ stateDir, store: slowStore, log: silent, terminationGraceMs: 2000, statusDelayMs: 5 });
    await runtime.start();
    cleanups.push(async () => {
      releaseFirstRead();
      await runtime.close();
      await store.close();
      await rm(stateDir, { recursive: true, force: true, maxRetries: 5 });
    });
    const { app, revision } = await deployFixture(store, { app: 'racer', revision: 'racer-00001', env: { VERSION: 'v1' } });
    await runtime.rollout(app, revision); // at zero: a status write of desiredReplicas 0 starts, and waits for the store
    await runtime.setScale('racer', 1);
    await endpointsWhere(runtime, 'racer', (e) => e.some((x) => x.ready));
    // A runtime that writes status concurrently has written the ready replica by now (within ms); one that
    // waits for the held write first has not, and never will before the release: for it, this gives up after 1 s.
    await appWhere(store, 'racer', (a) => a.status?.readyReplicas === 1 && a.status.desiredReplicas === 1, 1000).catch(() => undefined);
    released = true;
    releaseFirstRead();
    // The held write goes on now, with what it computed before; once it has landed, what must be left (at once or after one more write) is the state as it is: one replica wanted and ready.
    await writtenAfterRelease;
    await appWhere(store, 'racer', (a) => a.status?.readyReplicas === 1 && a.status.desiredReplicas === 1, 3000);
  });
});

describe('LocalRuntime runs only what git push made', () => {
  it('a Revision pointing outside <stateDir>/releases/<app>/ is never run: another folder, a symbolic link out, another app, a foreign image', async () => {
    const { stateDir, store, runtime } = await setup();
    const { app, revision } = await deployFixture(store, { app: 'guarded', revision: 'guarded-00001', env: { VERSION: 'v1' } });
    // Revisions that got past the store (a hand-edited state file, an older Dormant), given straight to the runtime.
    const outside = await mkdtemp(join(tmpdir(), 'dormant-outside-'));
    cleanups.push(() => rm(outside, { recursive: true, force: true }));
    await copyFile(join(revision.spec.releaseDir ?? '', 'server.js'), join(outside, 'server.js'));
    const linked = join(stateDir, 'releases', 'guarded', 'guarded-00002');
    await symlink(outside, linked);
    const cases = [
      { name: 'a folder outside', revision: { ...revision, spec: { ...revision.spec, releaseDir: outside } }, reason: `its release folder ${outside} is outside ${join(stateDir, 'releases', 'guarded')}` },
      { name: 'a symbolic link out', revision: { ...revision, metadata: { ...revision.metadata, name: 'guarded-00002' }, spec: { ...revision.spec, releaseDir: linked } }, reason: `its release folder ${linked} is outside` },
      { name: 'another app', revision: { ...revision, spec: { ...revision.spec, app: 'other' } }, reason: 'it belongs to app other' },
      { name: 'a foreign image', revision: { ...revision, spec: { ...revision.spec, image: 'docker.io/library/alpine' } }, reason: 'its image docker.io/library/alpine was not built by git push' },
    ];
    for (const row of cases) {
      await assert.rejects(
        runtime.rollout(app, row.revision),
        (e: unknown) => isDormantError(e, 'RUNTIME_FOREIGN_REVISION') && e.message.includes(row.reason) && /push the commit to deploy it/.test(e.message),
        row.name,
      );
    }
    assert.equal(runtime.describe('guarded').revision, undefined, 'nothing was recorded to run');
    assert.deepEqual(runtime.describe('guarded').replicas, []);
    // Its own release runs.
    await runtime.rollout(app, revision);
    await runtime.setScale('guarded', 1);
    const [ready] = await endpointsWhere(runtime, 'guarded', (e) => e.some((x) => x.ready));
    assert.equal((await get(ready?.address ?? '')).status, 200);
  });
});

describe('LocalRuntime runs only what git push made, after a restart too', () => {
  it('a serving revision whose release folder became a symbolic link out is not brought back on start', async () => {
    const { stateDir, store } = await setup();
    const { app, revision } = await deployFixture(store, { app: 'swapped', revision: 'swapped-00001', env: { VERSION: 'v1' } });
    await store.updateStatus({ ...app, status: { readyRevision: revision.metadata.name } });
    const outside = await mkdtemp(join(tmpdir(), 'dormant-outside-'));
    cleanups.push(() => rm(outside, { recursive: true, force: true }));
    await copyFile(join(revision.spec.releaseDir ?? '', 'server.js'), join(outside, 'server.js'));
    await rm(revision.spec.releaseDir ?? '', { recursive: true });
    await symlink(outside, revision.spec.releaseDir ?? '');
    const restarted = new LocalRuntime({ stateDir, store, log: silent, terminationGraceMs: 2000, statusDelayMs: 5 });
    cleanups.push(() => restarted.close());
    await restarted.start();
    assert.equal(restarted.describe('swapped').revision, undefined, 'nothing to run');
    await assert.rejects(restarted.setScale('swapped', 1), (e: unknown) => isDormantError(e, 'RUNTIME_NO_REVISION'));
    assert.deepEqual(restarted.describe('swapped').replicas, []);
  });
});

describe('LocalRuntime and the life of Dormant', () => {
  const host = fileURLToPath(new URL('./test-fixtures/runtime-host.ts', import.meta.url));

  async function startHost(stateDir: string, replicas: number, fork: boolean) {
    const child = spawn(process.execPath, ['--import', 'tsx', host, stateDir, String(replicas), fork ? '1' : '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
      });
      child.on('exit', (code) => reject(new Error(`host exited with ${code}`)));
    });
    return { child, pids: (JSON.parse(line) as { pids: number[] }).pids };
  }

  it('SIGKILL of Dormant leaves no replica alive', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'dormant-kill-'));
    cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
    const { child, pids } = await startHost(stateDir, 2, false);
    assert.equal(pids.filter(alive).length, 2);
    child.kill('SIGKILL');
    await untilDead(pids, 2000);
  });

  it('SIGKILL of Dormant kills what replicas forked too; a restart brings the app back at zero', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'dormant-restart-'));
    cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
    const { child, pids } = await startHost(stateDir, 1, true);
    const logs = await readdir(join(stateDir, 'logs'));
    assert.deepEqual(logs, ['hosted.log']);
    const store = await LocalStore.open({ stateDir });
    const runtime = new LocalRuntime({ stateDir, store, log: silent, statusDelayMs: 5 });
    cleanups.push(async () => {
      await runtime.close();
      await store.close();
    });
    let forked = false;
    for await (const line of runtime.logs('hosted')) forked ||= /^grandchild \d+$/.test(line.text);
    assert.ok(forked, 'the app forked a process');
    // The replica's processes, its grandchild too, by the marker they inherit (the pids an app sees are its namespace's).
    const marked = () => processesWithEnv(supervisorVariable, supervisorId(stateDir)).filter((pid) => pid !== child.pid);
    assert.ok(marked().length >= 2, `the replica and its grandchild run: ${marked().join(', ')}`);
    child.kill('SIGKILL');
    await untilDead(pids, 2000);
    await untilNoneWithEnv(supervisorVariable, supervisorId(stateDir), 2000);

    await runtime.start();
    assert.deepEqual(runtime.describe('hosted'), { desired: 0, revision: 'hosted-00001', replicas: [] });
    await appWhere(store, 'hosted', (a) => a.status?.desiredReplicas === 0 && a.status.readyReplicas === 0);
    await runtime.setScale('hosted', 1);
    const [endpoint] = await endpointsWhere(runtime, 'hosted', (e) => e.some((x) => x.ready));
    assert.equal((await get(endpoint?.address ?? '')).body.split(' ')[0], 'version=v1');
  });
});
