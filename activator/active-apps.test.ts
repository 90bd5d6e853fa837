// Which apps the activator's tick visits and which a round reports, with times passed in
// (the meter and the list read no clock).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActiveApps, type AppActivity, hasWork } from './active-apps.js';
import { AppTraffic } from './app-traffic.js';
import { ConcurrencyMeter } from './concurrency-meter.js';

const traffic = (name: string, nowMs = 0) => new AppTraffic(name, { containerConcurrency: 0, queueDepth: 10, requestTimeoutMs: 60_000 }, nowMs, { drained: () => {} });

describe('hasWork', () => {
  const rows: { name: string; activity: AppActivity; work: boolean }[] = [
    { name: 'nothing held, gauge at 0, nothing unreported: no work', activity: { held: 0, heldInGauge: 0, unreported: false }, work: false },
    { name: 'a request held', activity: { held: 1, heldInGauge: 1, unreported: false }, work: true },
    { name: 'load not reported yet', activity: { held: 0, heldInGauge: 0, unreported: true }, work: true },
    { name: 'the gauge still says 3 of a queue now empty', activity: { held: 0, heldInGauge: 3, unreported: false }, work: true },
    { name: 'the gauge never set (a new app)', activity: { held: 0, heldInGauge: -1, unreported: false }, work: true },
  ];
  for (const row of rows) it(row.name, () => assert.equal(hasWork(row.activity), row.work));
});

describe('ConcurrencyMeter.idle', () => {
  type Step = readonly ['started' | 'finished' | 'report', number];
  const rows: { name: string; steps: readonly Step[]; idle: boolean }[] = [
    { name: 'new', steps: [], idle: true },
    { name: 'a request in flight', steps: [['started', 10]], idle: false },
    { name: 'a request started and ended since the last report', steps: [['started', 10], ['finished', 20]], idle: false },
    { name: 'a request ended, then reported', steps: [['started', 10], ['finished', 20], ['report', 1000]], idle: true },
    { name: 'a request in flight across a report', steps: [['started', 10], ['report', 1000]], idle: false },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const meter = new ConcurrencyMeter(0);
      for (const [step, atMs] of row.steps) meter[step](atMs);
      assert.equal(meter.idle, row.idle);
    });
  }
});

describe('ConcurrencyMeter.skippedUntil: the window of an app the rounds left out', () => {
  type Step = readonly ['started' | 'finished' | 'report' | 'skippedUntil', number];
  const rows: { name: string; createdMs: number; steps: readonly Step[]; reportMs: number; report: { averageConcurrency: number; requests: number; windowMs: number } }[] = [
    {
      name: 'idle since 0, rounds until 5000 left it out, a request 5200-5400: the window starts at the last round',
      createdMs: 0,
      steps: [['skippedUntil', 5000], ['started', 5200], ['finished', 5400]],
      reportMs: 6000,
      report: { averageConcurrency: 0.2, requests: 1, windowMs: 1000 },
    },
    {
      name: 'created at 5500, after the last round at 5000: the window starts when it was created',
      createdMs: 5500,
      steps: [['skippedUntil', 5000], ['started', 5600], ['finished', 5800]],
      reportMs: 6000,
      report: { averageConcurrency: 0.4, requests: 1, windowMs: 500 },
    },
    {
      name: 'a wake-up report at 5300 between rounds: the next window starts there',
      createdMs: 0,
      steps: [['skippedUntil', 5000], ['started', 5200], ['report', 5300]],
      reportMs: 6000,
      report: { averageConcurrency: 1, requests: 0, windowMs: 700 },
    },
    {
      name: 'a request in flight since 100: a busy window is not moved',
      createdMs: 0,
      steps: [['started', 100], ['skippedUntil', 5000]],
      reportMs: 6000,
      report: { averageConcurrency: 5900 / 6000, requests: 1, windowMs: 6000 },
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const meter = new ConcurrencyMeter(row.createdMs);
      for (const [step, atMs] of row.steps) meter[step](atMs);
      assert.deepEqual(meter.report(row.reportMs), row.report);
    });
  }
});

describe('ActiveApps', () => {
  const keepNone = () => false;

  it('a new app is visited once, then left out while nothing happens', () => {
    const active = new ActiveApps();
    const app = traffic('new');
    active.add(app);
    const visited: string[] = [];
    active.sweep((t) => {
      visited.push(t.name);
      return false;
    });
    active.sweep((t) => {
      visited.push(t.name);
      return false;
    });
    assert.deepEqual(visited, ['new']);
    assert.equal(active.size, 0);
    assert.equal(app.listed, false);
  });

  it('requests for a listed app list it once', () => {
    const active = new ActiveApps();
    const app = traffic('busy');
    for (let i = 0; i < 100; i++) active.started(app, i);
    assert.equal(active.size, 1);
    assert.equal(app.meter.current, 100);
  });

  it('an app that left the list is listed again by its next request', () => {
    const active = new ActiveApps();
    const app = traffic('again');
    active.add(app);
    active.sweep(keepNone);
    active.started(app, 10);
    assert.equal(active.size, 1);
    assert.equal(app.listed, true);
  });

  it('the sweep keeps the apps with work, in order, and drops the others', () => {
    const active = new ActiveApps();
    const apps = ['a', 'b', 'c', 'd'].map((name) => traffic(name));
    for (const app of apps) active.add(app);
    active.sweep((t) => t.name === 'b' || t.name === 'd');
    const left: string[] = [];
    active.sweep((t) => {
      left.push(t.name);
      return true;
    });
    assert.deepEqual(left, ['b', 'd']);
  });

  it('a deleted app is not visited', () => {
    const active = new ActiveApps();
    const gone = traffic('gone');
    const kept = traffic('kept');
    active.add(gone);
    active.add(kept);
    active.remove(gone);
    const visited: string[] = [];
    active.sweep((t) => {
      visited.push(t.name);
      return true;
    });
    assert.deepEqual(visited, ['kept']);
  });

  it("reports in a round the same load as a report of every app every second would, and leaves out exactly that report's zeros", () => {
    // Sparse requests over 300 rounds of 1 s, from a seeded generator: idle stretches, single
    // requests, requests across rounds. One meter is reported every round, as the activator
    // did; the other goes through the list and the tick's rule (report when not idle; keep
    // while there is work).
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const everyRound = new ConcurrencyMeter(0);
    const active = new ActiveApps();
    const app = traffic('sparse');
    active.add(app);
    let inFlight = 0;
    let leftOut = 0;
    for (let round = 1; round <= 300; round++) {
      const roundMs = round * 1000 + Math.floor(random() * 20);
      for (let ms = roundMs - 990; ms < roundMs; ms += 10) {
        if (random() < 0.002 || (round > 100 && round < 110 && random() < 0.05)) {
          everyRound.started(ms);
          active.started(app, ms);
          inFlight++;
        } else if (inFlight > 0 && random() < 0.01) {
          everyRound.finished(ms);
          app.meter.finished(ms);
          inFlight--;
        }
      }
      const expected = everyRound.report(roundMs);
      let reported: ReturnType<ConcurrencyMeter['report']> | undefined;
      active.sweep((t) => {
        if (!t.meter.idle) reported = t.meter.report(roundMs);
        return hasWork({ held: t.queue.active, heldInGauge: 0, unreported: !t.meter.idle });
      });
      active.roundMade(roundMs);
      if (reported === undefined) {
        leftOut++;
        assert.deepEqual([expected.averageConcurrency, expected.requests], [0, 0], `round ${round} left out a load`);
      } else {
        assert.deepEqual(reported, expected, `round ${round}`);
      }
    }
    assert.ok(leftOut > 100 && leftOut < 290, `${leftOut} of 300 rounds left the app out: the case has idle and busy stretches`);
  });
});
