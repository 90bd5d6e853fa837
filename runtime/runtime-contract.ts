/**
 * The behaviour every Runtime must show, written once and run against each implementation
 * (the local runtime in npm test, the Kubernetes runtime on the test cluster), beside the
 * ResourceStore's contract. Real replicas of a real app (test-fixtures/contract-app.cjs),
 * real HTTP requests to the addresses the endpoints give, and waits on events (the
 * endpoints iterator, the store's watch), each bounded by a deadline that fails the test
 * saying what did not happen.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type App, apiVersion, type Condition, type Revision } from '../crds/index.js';
import { isDormantError } from '../errors/index.js';
import type { ResourceStore } from './resource-store.js';
import type { Endpoint, Runtime } from './runtime.js';

/** A Revision of the contract app; the App is created with it when it does not exist. */
export interface ContractRevision {
  readonly app: string;
  readonly revision: string;
  /** Chooses the app's behaviour (see test-fixtures/contract-app.cjs). */
  readonly env: Readonly<Record<string, string>>;
  readonly readinessPath?: string;
}

/** The App of a contract case (created once, shared by its revisions) and the run fields its revisions get. */
export async function contractAppOf(store: ResourceStore, name: string, readinessPath: string | undefined): Promise<{ app: App; run: { readinessPath?: string } }> {
  const run = readinessPath === undefined ? {} : { readinessPath };
  const app = (await store.find('App', name)) ?? (await store.create({ apiVersion, kind: 'App', metadata: { name }, spec: { run } }));
  return { app, run };
}

export interface RuntimeUnderTest {
  readonly store: ResourceStore;
  /** Started; the suite never calls start() or close() itself. */
  readonly runtime: Runtime;
  /** Stores the App (once) and a Revision of the contract app that this runtime can run: a release folder locally, an image the cluster can pull on Kubernetes. */
  readonly deploy: (options: ContractRevision) => Promise<{ readonly app: App; readonly revision: Revision }>;
  /** Closes the runtime and the store and removes what the suite made. */
  readonly cleanup: () => Promise<void>;
}

/**
 * Where the runtimes legitimately differ today. Each case runs on every runtime; these say
 * what to expect of this one, and the factory says why in a comment.
 */
export interface RuntimeDifferences {
  /** The longest one change may take: a process starts in milliseconds, a pod in seconds. */
  readonly waitMs: number;
  /**
   * drained() is what lets a draining endpoint stop: it stays in the endpoints until the
   * activator reports it drained (or the drain timeout, longer than the suite's waits, ends).
   * False where stopping is timed by something else (a pod's preStop) and drained() does nothing.
   */
  readonly drainedReleases: boolean;
  readonly restart: {
    /** The restarted replica keeps its endpoint id (a pod keeps its name) or gets a new one (a new process). */
    readonly sameEndpoint: boolean;
    /** Lower bounds of the time from a crash (the request that makes the app exit) to the next process's start (its own clock: one host), for the first and for the second crash in a row. */
    readonly minDelayMs: readonly [number, number];
    /** The Ready condition while the replica of the second crash waits out its back-off. */
    readonly condition: { readonly status: Condition['status']; readonly reason: string; readonly message?: RegExp };
  };
}

/** What the contract app answers on / (one instance per process). */
interface WhoAmI {
  readonly version: string;
  readonly instance: string;
  readonly startedAt: number;
  readonly listenedAt: number;
}

/** Wakes waiters on every change; until() resolves at the first state that matches, or fails at its deadline naming what it waited for. */
class Changes {
  readonly #waiters = new Set<() => void>();

  notify(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  until<T>(what: string, check: () => T | undefined, timeoutMs: number, last: () => string = () => '', signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const aborted = () => {
        done();
        reject(new Error(`${what}: no longer waited for`));
      };
      const wake = () => {
        let value: T | undefined;
        try {
          value = check();
        } catch (error) {
          done();
          reject(error);
          return;
        }
        if (value === undefined) return;
        done();
        resolve(value);
      };
      const timer = setTimeout(() => {
        done();
        const detail = last();
        reject(new Error(`${what}: not within ${timeoutMs} ms${detail ? `; last seen: ${detail}` : ''}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        signal?.removeEventListener('abort', aborted);
      };
      signal?.addEventListener('abort', aborted, { once: true });
      this.#waiters.add(wake);
      wake();
    });
  }
}

interface Seen<T> {
  readonly atMs: number;
  readonly value: T;
}

/**
 * Follows an app's endpoints as the activator does, keeping every snapshot it read. Unless
 * the test routes requests itself (onChange), it reports every draining endpoint drained at
 * once, as an activator with nothing in flight to it does.
 */
class EndpointsFollower {
  readonly history: Seen<readonly Endpoint[]>[] = [];
  readonly changes = new Changes();
  readonly #abort = new AbortController();
  readonly #done: Promise<void>;
  readonly #onChange: ((endpoints: readonly Endpoint[]) => void) | undefined;

  constructor(runtime: Runtime, app: string, onChange?: (endpoints: readonly Endpoint[]) => void) {
    this.#onChange =
      onChange ??
      ((endpoints) => {
        for (const e of endpoints) if (e.draining) runtime.drained(app, e.id);
      });
    this.#done = (async () => {
      for await (const endpoints of runtime.endpoints(app, this.#abort.signal)) {
        this.history.push({ atMs: Date.now(), value: endpoints });
        this.#onChange?.(endpoints);
        this.changes.notify();
      }
    })();
  }

  get latest(): readonly Endpoint[] | undefined {
    return this.history.at(-1)?.value;
  }

  /** The first snapshot from index since on (the current one included) that matches. */
  until(what: string, predicate: (endpoints: readonly Endpoint[]) => boolean, timeoutMs: number, since = Math.max(0, this.history.length - 1)): Promise<readonly Endpoint[]> {
    return this.changes.until(
      what,
      () => this.history.slice(since).find((seen) => predicate(seen.value))?.value,
      timeoutMs,
      () => JSON.stringify(this.latest),
    );
  }

  /** The next snapshot after the ones read so far. */
  next(what: string, timeoutMs: number): Promise<readonly Endpoint[]> {
    const count = this.history.length;
    return this.changes.until(what, () => this.history[count]?.value, timeoutMs, () => JSON.stringify(this.latest));
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#done;
  }
}

/** Follows one App through the store's watch, keeping every version it read. */
class AppFollower {
  readonly history: Seen<App>[] = [];
  readonly changes = new Changes();
  readonly #abort = new AbortController();
  readonly #done: Promise<void>;

  constructor(store: ResourceStore, name: string) {
    this.#done = (async () => {
      try {
        for await (const event of store.watch('App', { signal: this.#abort.signal })) {
          if (event.object.metadata.name !== name || event.type === 'DELETED') continue;
          this.history.push({ atMs: Date.now(), value: event.object });
          this.changes.notify();
        }
      } catch (error) {
        if (!this.#abort.signal.aborted) throw error;
      }
    })();
  }

  until(what: string, predicate: (app: App) => boolean, timeoutMs: number, since = Math.max(0, this.history.length - 1)): Promise<App> {
    return this.changes.until(
      what,
      () => this.history.slice(since).find((seen) => predicate(seen.value))?.value,
      timeoutMs,
      () => JSON.stringify(this.history.at(-1)?.value.status),
    );
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#done;
  }
}

const readyCondition = (app: App) => app.status?.conditions?.find((c) => c.type === 'Ready');

/** One GET on a fresh connection (as an activator's first request to a replica), failing after timeoutMs. */
function httpGet(address: string, path: string, timeoutMs: number): Promise<{ readonly status: number; readonly body: string }> {
  const colon = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const req = request({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)), path, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${address}${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

async function whoAmI(address: string, timeoutMs: number): Promise<WhoAmI> {
  const answer = await httpGet(address, '/', timeoutMs);
  assert.equal(answer.status, 200, `GET / on ${address}: ${answer.body}`);
  return JSON.parse(answer.body) as WhoAmI;
}

const ready = (endpoints: readonly Endpoint[]) => endpoints.filter((e) => e.ready && !e.draining);

export function runtimeContract(name: string, differences: RuntimeDifferences, open: () => Promise<RuntimeUnderTest>): void {
  const { waitMs } = differences;
  describe(`Runtime contract: ${name}`, () => {
    let subject: RuntimeUnderTest;
    let store: ResourceStore;
    let runtime: Runtime;
    const followers: { stop: () => Promise<void> }[] = [];
    const followEndpoints = (app: string, onChange?: (endpoints: readonly Endpoint[]) => void) => {
      const follower = new EndpointsFollower(runtime, app, onChange);
      followers.push(follower);
      return follower;
    };
    const followApp = (app: string) => {
      const follower = new AppFollower(store, app);
      followers.push(follower);
      return follower;
    };
    /** Deploys a revision at zero replicas (the runtime only records it) and scales it to replicas. */
    const deployAndScale = async (options: ContractRevision, replicas: number) => {
      const { app, revision } = await subject.deploy(options);
      await runtime.rollout(app, revision);
      await runtime.setScale(options.app, replicas);
      return { app, revision };
    };

    before(async () => {
      subject = await open();
      store = subject.store;
      runtime = subject.runtime;
    });
    after(async () => {
      for (const follower of followers) await follower.stop();
      await subject.cleanup();
    });

    it('scales 0 -> 2 -> 0: endpoints become ready and answer as two replicas, then none are left; status follows', async () => {
      const endpoints = followEndpoints('rc-scale');
      const status = followApp('rc-scale');
      const { app, revision } = await subject.deploy({ app: 'rc-scale', revision: 'rc-scale-00001', env: { VERSION: 'v1' } });
      await runtime.rollout(app, revision);
      assert.deepEqual(await endpoints.until('the first snapshot', () => true, waitMs), [], 'a rollout at zero starts nothing');

      await runtime.setScale('rc-scale', 2);
      const two = await endpoints.until('two ready endpoints', (e) => ready(e).length === 2, waitMs);
      const answers = await Promise.all(two.map((e) => whoAmI(e.address, waitMs)));
      assert.deepEqual(answers.map((a) => a.version), ['v1', 'v1']);
      assert.equal(new Set(answers.map((a) => a.instance)).size, 2, 'two replicas, each answering as itself');
      const serving = await status.until(
        'status desiredReplicas 2, readyReplicas 2, Ready True',
        (a) => a.status?.desiredReplicas === 2 && a.status.readyReplicas === 2 && readyCondition(a)?.status === 'True',
        waitMs,
      );
      assert.equal(readyCondition(serving)?.reason, 'Serving');

      await runtime.setScale('rc-scale', 0);
      await endpoints.until('no endpoints at zero', (e) => e.length === 0, waitMs);
      const atZero = await status.until('status desiredReplicas 0, readyReplicas 0', (a) => a.status?.desiredReplicas === 0 && a.status.readyReplicas === 0, waitMs);
      assert.equal(readyCondition(atZero)?.status, 'True', 'at zero the app is still Ready: a request wakes it');
      assert.equal(readyCondition(atZero)?.reason, 'ScaledToZero');
      for (const e of two) await assert.rejects(httpGet(e.address, '/', 2000), `the stopped replica at ${e.address} answers no more`);
    });

    it('readiness gating: with a readinessPath, a replica is not ready while the path answers 503, and is once it answers 200', async () => {
      let opened = false;
      const readyTooSoon: string[] = [];
      const endpoints = followEndpoints('rc-gated', (e) => {
        if (!opened && e.some((x) => x.ready)) readyTooSoon.push(JSON.stringify(e));
        for (const x of e) if (x.draining) runtime.drained('rc-gated', x.id);
      });
      const status = followApp('rc-gated');
      await deployAndScale({ app: 'rc-gated', revision: 'rc-gated-00001', env: { VERSION: 'v1', HOLD_READY: '1' }, readinessPath: '/healthz' }, 1);
      const [starting] = await endpoints.until('an endpoint with an address', (e) => e.length === 1, waitMs);
      assert.ok(starting);
      // The app listens but holds /healthz at 503; wait until it has refused three probes: the runtime saw its port answer, and still it must not be ready.
      const stopWatching = new AbortController();
      const tooSoon = endpoints.changes.until('a ready snapshot', () => (readyTooSoon.length > 0 ? true : undefined), waitMs, undefined, stopWatching.signal).catch(() => false);
      const refused = await Promise.race([
        untilAnswers(starting.address, '/refused?atLeast=3', waitMs),
        tooSoon.then(() => assert.fail(`the replica was ready while /healthz answered 503: ${readyTooSoon[0]}`)),
      ]).finally(() => stopWatching.abort());
      assert.ok((JSON.parse(refused.body) as { refused: number }).refused >= 3);
      assert.deepEqual(readyTooSoon, [], 'no snapshot had the replica ready while /healthz answered 503');
      assert.equal(endpoints.latest?.[0]?.ready, false);
      const starting1 = await status.until('status desiredReplicas 1, readyReplicas 0', (a) => a.status?.desiredReplicas === 1 && a.status.readyReplicas === 0, waitMs);
      assert.notEqual(readyCondition(starting1)?.status, 'True', 'not Ready before any replica is');

      opened = true;
      assert.equal((await httpGet(starting.address, '/open', waitMs)).status, 200);
      const [now] = await endpoints.until('the replica ready once /healthz answers 200', (e) => ready(e).length === 1, waitMs);
      assert.equal(now?.id, starting.id, 'the same replica, not a new one');
      await status.until('status readyReplicas 1, Ready True', (a) => a.status?.readyReplicas === 1 && readyCondition(a)?.status === 'True', waitMs);
    });

    it('readiness gating: without a readinessPath, a replica is ready only once its port accepts', async () => {
      let readySeenAt: number | undefined;
      const endpoints = followEndpoints('rc-port', (e) => {
        if (readySeenAt === undefined && e.some((x) => x.ready)) readySeenAt = Date.now();
        for (const x of e) if (x.draining) runtime.drained('rc-port', x.id);
      });
      await deployAndScale({ app: 'rc-port', revision: 'rc-port-00001', env: { VERSION: 'v1', BOOT_MS: '1500' } }, 1);
      const [endpoint] = await endpoints.until('a ready endpoint', (e) => ready(e).length === 1, waitMs);
      assert.ok(endpoint && readySeenAt !== undefined);
      const who = await whoAmI(endpoint.address, waitMs);
      // Causal, not a timing bound: the app noted the time just before it called listen, 1.5 s after it started.
      assert.ok(readySeenAt >= who.listenedAt, `ready at ${readySeenAt}, ${who.listenedAt - readySeenAt} ms before the app listened (it started at ${who.startedAt})`);
    });

    it('a rollout under steady requests fails none; requests sent after it returned reach only the new revision; the old replicas leave', async (t: TestContext) => {
      await deployAndScale({ app: 'rc-roll', revision: 'rc-roll-00001', env: { VERSION: 'v1' } }, 2);
      // A minimal activator: routes to the ready, non-draining endpoint with the fewest requests in flight, and reports drained() once a draining one has none.
      const inFlight = new Map<string, number>();
      const draining = new Set<string>();
      const drainedCalled = new Set<string>();
      const leftBeforeDrained: string[] = [];
      let known = new Set<string>();
      const reportDrained = () => {
        for (const id of draining) {
          if (!inFlight.get(id) && !drainedCalled.has(id)) {
            drainedCalled.add(id);
            runtime.drained('rc-roll', id);
          }
        }
      };
      const endpoints = followEndpoints('rc-roll', (e) => {
        const now = new Set(e.map((x) => x.id));
        for (const id of known) if (!now.has(id) && draining.has(id) && !drainedCalled.has(id)) leftBeforeDrained.push(id);
        known = now;
        for (const x of e) if (x.draining) draining.add(x.id);
        reportDrained();
      });
      const before = await endpoints.until('two ready v1 endpoints', (e) => ready(e).length === 2, waitMs);
      const oldIds = new Set(before.map((e) => e.id));

      interface Sent {
        readonly afterRollout: boolean;
        readonly endpoint: string;
        status: number;
        version: string;
      }
      const sent: Sent[] = [];
      const progress = new Changes();
      let rolledOut = false;
      let stop = false;
      const worker = async () => {
        while (!stop) {
          const target = [...ready(endpoints.latest ?? [])].sort((a, b) => (inFlight.get(a.id) ?? 0) - (inFlight.get(b.id) ?? 0))[0];
          if (!target) {
            // Nothing routable: the activator waits for the next change of the endpoints.
            await endpoints.next('a routable endpoint', waitMs);
            continue;
          }
          const request: Sent = { afterRollout: rolledOut, endpoint: target.id, status: 0, version: '' };
          sent.push(request);
          inFlight.set(target.id, (inFlight.get(target.id) ?? 0) + 1);
          try {
            const answer = await httpGet(target.address, '/', waitMs);
            request.status = answer.status;
            request.version = answer.status === 200 ? (JSON.parse(answer.body) as WhoAmI).version : answer.body;
          } catch (error) {
            request.version = String(error);
          } finally {
            inFlight.set(target.id, (inFlight.get(target.id) ?? 1) - 1);
            reportDrained();
            progress.notify();
          }
        }
      };
      const workers = [worker(), worker()];
      const answered = (predicate: (r: Sent) => boolean) => sent.filter((r) => r.status !== 0 && predicate(r)).length;
      try {
        await progress.until('20 answers from v1 before the rollout', () => (answered((r) => r.version === 'v1') >= 20 ? true : undefined), waitMs);
        // Where drained() decides: one request held in flight on an old replica across the rollout. That replica must drain, and keep serving, until the activator reports it drained.
        const [holder, other] = differences.drainedReleases ? before : [];
        let held: Promise<number> | undefined;
        let heldAnswer: number | undefined;
        if (holder) {
          inFlight.set(holder.id, (inFlight.get(holder.id) ?? 0) + 1);
          held = httpGet(holder.address, '/hold', waitMs)
            .then(
              (answer) => answer.status,
              () => 0,
            )
            .then((status) => {
              heldAnswer = status;
              inFlight.set(holder.id, (inFlight.get(holder.id) ?? 1) - 1);
              reportDrained();
              return status;
            });
        }
        const v2 = await subject.deploy({ app: 'rc-roll', revision: 'rc-roll-00002', env: { VERSION: 'v2' } });
        await runtime.rollout(v2.app, v2.revision);
        rolledOut = true;
        if (holder && other && held) {
          await endpoints.until('the replica with a request in flight draining', (e) => e.some((x) => x.id === holder.id && x.draining), waitMs);
          // Both old replicas began to drain together; the idle one, reported drained at once, has stopped. Had the held one been stopped too, its app would have answered the held request 503 (SIGTERM) by now.
          await endpoints.until('the idle old replica gone', (e) => !e.some((x) => x.id === other.id), waitMs);
          assert.equal(heldAnswer, undefined, 'the replica with a request in flight was stopped before the activator reported it drained');
          assert.ok(endpoints.latest?.some((x) => x.id === holder.id && x.draining), 'it is still listed, draining');
          const release = await httpGet(holder.address, '/release', waitMs).catch((error: unknown) => assert.fail(`the draining replica stopped serving before drained(): ${String(error)}`));
          assert.deepEqual(JSON.parse(release.body), { released: 1 }, 'the held request was in flight on it');
          assert.equal(await held, 200, 'the request in flight through the rollout was answered');
        }
        await progress.until('20 answers to requests sent after the rollout returned', () => (answered((r) => r.afterRollout) >= 20 ? true : undefined), waitMs);
        await endpoints.until('the old replicas gone from the endpoints', (e) => !e.some((x) => oldIds.has(x.id)), waitMs);
      } finally {
        stop = true;
        await Promise.all(workers);
      }
      t.diagnostic(`${sent.length} requests, ${sent.filter((r) => r.afterRollout).length} of them after the rollout returned`);
      const failed = sent.filter((r) => r.status !== 200);
      assert.deepEqual(failed, [], `${failed.length} of ${sent.length} requests failed`);
      assert.deepEqual([...new Set(sent.filter((r) => r.afterRollout).map((r) => r.version))], ['v2'], 'no request sent after the rollout returned reached v1');
      if (differences.drainedReleases) {
        assert.deepEqual(leftBeforeDrained, [], 'a draining endpoint stayed until the activator reported it drained');
        for (const id of oldIds) assert.ok(drainedCalled.has(id), `drained() was called for ${id}`);
      }
      const after = await endpoints.until('two ready v2 endpoints', (e) => ready(e).length === 2 && e.length === 2, waitMs);
      assert.deepEqual((await Promise.all(after.map((e) => whoAmI(e.address, waitMs)))).map((w) => w.version), ['v2', 'v2']);
      await followApp('rc-roll').until('status readyReplicas 2 of the new revision', (a) => a.status?.desiredReplicas === 2 && a.status.readyReplicas === 2, waitMs);
    });

    it('a replica that crashes is restarted after a back-off that grows; the Ready condition says so meanwhile, and it serves again', async (t: TestContext) => {
      const endpoints = followEndpoints('rc-crash');
      const status = followApp('rc-crash');
      await deployAndScale({ app: 'rc-crash', revision: 'rc-crash-00001', env: { VERSION: 'v1' } }, 1);
      const [first] = await endpoints.until('a ready endpoint', (e) => ready(e).length === 1, waitMs);
      assert.ok(first);
      const firstWho = await whoAmI(first.address, waitMs);

      /** The endpoint of the replica that replaced instance, once it answers: tried at each change of the endpoints. */
      const comesBack = async (instance: string, crashedAt: number, timeoutMs: number): Promise<{ endpoint: Endpoint; who: WhoAmI }> => {
        const deadline = performance.now() + timeoutMs;
        for (;;) {
          for (const endpoint of ready(endpoints.latest ?? [])) {
            const who = await whoAmI(endpoint.address, 2000).catch(() => undefined);
            if (who && who.instance !== instance) return { endpoint, who };
          }
          const left = deadline - performance.now();
          if (left <= 0) assert.fail(`no new replica answered within ${timeoutMs} ms of the crash at ${crashedAt}; endpoints: ${JSON.stringify(endpoints.latest)}`);
          await endpoints.next(`a change of the endpoints after the crash at ${crashedAt}`, left);
        }
      };

      // Taken before the request: the app exits after it, so a restart delay measured from here is never too short.
      const crashedAt = Date.now();
      assert.equal((await httpGet(first.address, '/crash', waitMs)).status, 200);
      const second = await comesBack(firstWho.instance, crashedAt, waitMs + differences.restart.minDelayMs[0]);
      assert.ok(second.who.startedAt - crashedAt >= differences.restart.minDelayMs[0], `the first restart started ${second.who.startedAt - crashedAt} ms after the crash`);
      if (differences.restart.sameEndpoint) assert.equal(second.endpoint.id, first.id, 'the restarted replica keeps its endpoint');
      else assert.notEqual(second.endpoint.id, first.id, 'the restarted replica is a new endpoint');

      const mark = endpoints.history.length;
      const statusMark = status.history.length;
      const crashedAgainAt = Date.now();
      assert.equal((await httpGet(second.endpoint.address, '/crash', waitMs)).status, 200);
      await endpoints.until('no ready endpoint while the crashed replica waits out its back-off', (e) => ready(e).length === 0, waitMs, mark);
      const { condition } = differences.restart;
      const waiting = await status.until(
        `the Ready condition ${condition.status}/${condition.reason} during the back-off`,
        (a) => a.status?.readyReplicas === 0 && readyCondition(a)?.status === condition.status && readyCondition(a)?.reason === condition.reason,
        waitMs,
        statusMark,
      );
      if (condition.message) assert.match(readyCondition(waiting)?.message ?? '', condition.message);
      const third = await comesBack(second.who.instance, crashedAgainAt, waitMs + differences.restart.minDelayMs[1]);
      const secondDelay = third.who.startedAt - crashedAgainAt;
      t.diagnostic(`from crash to the next start: ${second.who.startedAt - crashedAt} ms, then ${secondDelay} ms`);
      assert.ok(secondDelay >= differences.restart.minDelayMs[1], `the second restart in a row started ${secondDelay} ms after its crash: the back-off did not grow`);
      await status.until('status readyReplicas 1, Ready True/Serving after the restart', (a) => a.status?.readyReplicas === 1 && readyCondition(a)?.reason === 'Serving', waitMs);
    });

    it('deleting the App from the store stops its replicas: endpoints empty, addresses silent, nothing to scale', async () => {
      const endpoints = followEndpoints('rc-doomed');
      await deployAndScale({ app: 'rc-doomed', revision: 'rc-doomed-00001', env: { VERSION: 'v1' } }, 2);
      const two = await endpoints.until('two ready endpoints', (e) => ready(e).length === 2, waitMs);
      await store.delete('App', 'rc-doomed');
      await endpoints.until('no endpoints once the App is deleted', (e) => e.length === 0, waitMs);
      for (const e of two) await assert.rejects(httpGet(e.address, '/', 2000), `the replica at ${e.address} answers no more`);
      await assert.rejects(runtime.setScale('rc-doomed', 1), (error: unknown) => isDormantError(error, 'RUNTIME_NO_REVISION'));
    });
  });
}

/**
 * GET path on an address until it answers: a replica's endpoint may be listed before its
 * app listens (locally from the spawn, in Kubernetes from the pod's address), and no event
 * tells when it starts to; refused connections are retried after 20 ms.
 */
async function untilAnswers(address: string, path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const left = deadline - performance.now();
    try {
      return await httpGet(address, path, Math.max(1, left));
    } catch (error) {
      if (left <= 0) throw new Error(`${address}${path} did not answer within ${timeoutMs} ms: ${String(error)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
