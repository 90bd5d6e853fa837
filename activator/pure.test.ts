import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pickTwoChoices } from './balancer.js';
import { ConcurrencyMeter } from './concurrency-meter.js';
import { idleWaitMs } from './drain.js';
import { type Held, HoldQueue } from './hold-queue.js';
import { httpsLocation, pokeDue, wakeStarts } from './request-path.js';
import { RouteTable } from './route-table.js';
import { TraceRecorder } from './trace-recorder.js';

/** A random source that returns the given values in turn. */
const sequence = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length] ?? 0;
};
const slots = (...inFlight: number[]) => inFlight.map((n) => ({ inFlight: n }));

describe('pickTwoChoices', () => {
  const rows = [
    { name: 'no candidates', candidates: slots(), limit: 0, random: sequence(0), pick: -1 },
    { name: 'one with room', candidates: slots(3), limit: 0, random: sequence(0), pick: 0 },
    { name: 'one at its limit', candidates: slots(1), limit: 1, random: sequence(0), pick: -1 },
    { name: 'of two sampled, the less loaded (second)', candidates: slots(5, 2, 9), limit: 0, random: sequence(0, 0), pick: 1 },
    { name: 'of two sampled, the less loaded (first)', candidates: slots(1, 7, 9), limit: 0, random: sequence(0, 0.5), pick: 0 },
    { name: 'a tie keeps the first sampled', candidates: slots(4, 4), limit: 0, random: sequence(0.9, 0), pick: 1 },
    { name: 'the less loaded is full: the other', candidates: slots(2, 1, 0), limit: 2, random: sequence(0, 0), pick: 1 },
    { name: 'both sampled full: any with room', candidates: slots(1, 1, 0), limit: 1, random: sequence(0, 0), pick: 2 },
    { name: 'everything full', candidates: slots(1, 1, 1), limit: 1, random: sequence(0, 0), pick: -1 },
  ];
  for (const row of rows) it(row.name, () => assert.equal(pickTwoChoices(row.candidates, row.limit, row.random), row.pick));

  it('never samples the same candidate twice', () => {
    for (let a = 0; a < 1; a += 0.1) {
      for (let b = 0; b < 1; b += 0.1) {
        // Candidate 0 is idle; 1 is busy. Any two distinct samples include 0.
        assert.equal(pickTwoChoices(slots(0, 9), 0, sequence(a, b)), 0);
      }
    }
  });
});

describe('HoldQueue', () => {
  const held = (): Held => ({ cancelled: false, queued: false, enqueuedAtMs: 0 });
  it('is first in, first out, and refuses past its capacity', () => {
    const queue = new HoldQueue<Held>(2);
    const [a, b, c] = [held(), held(), held()];
    assert.ok(queue.push(a));
    assert.ok(queue.push(b));
    assert.equal(queue.push(c), false);
    assert.equal(queue.shift(), a);
    assert.ok(queue.push(c));
    assert.equal(queue.shift(), b);
    assert.equal(queue.shift(), c);
    assert.equal(queue.shift(), undefined);
  });

  it('cancelling what is not queued (started, or never held) changes nothing', () => {
    const queue = new HoldQueue<Held>(2);
    const [a, b] = [held(), held()];
    queue.cancel(a);
    queue.push(b);
    queue.shift();
    queue.cancel(b);
    assert.equal(queue.active, 0);
    assert.ok(queue.push(a));
    assert.equal(queue.active, 1);
  });

  it('a full ring with a cancelled entry behind the head makes room', () => {
    const queue = new HoldQueue<Held>(3);
    const [a, b, c, d] = [held(), held(), held(), held()];
    for (const x of [a, b, c]) queue.push(x);
    queue.cancel(b);
    assert.ok(queue.push(d));
    assert.deepEqual([queue.shift(), queue.shift(), queue.shift()], [a, c, d]);
  });

  it('skips a cancelled entry, and its slot is free again', () => {
    const queue = new HoldQueue<Held>(2);
    const [a, b, c] = [held(), held(), held()];
    queue.push(a);
    queue.push(b);
    queue.cancel(a);
    queue.cancel(a);
    assert.equal(queue.active, 1);
    assert.ok(queue.push(c), 'the cancelled head made room');
    assert.equal(queue.shift(), b);
    assert.equal(queue.shift(), c);
    assert.equal(queue.active, 0);
  });
});

describe('ConcurrencyMeter', () => {
  it('averages concurrency over time, not over events', () => {
    const meter = new ConcurrencyMeter(0);
    meter.started(0); // 1 for 500 ms
    meter.started(500); // 2 for 250 ms
    meter.finished(750); // 1 for 250 ms
    const report = meter.report(1000);
    assert.equal(report.averageConcurrency, (1 * 500 + 2 * 250 + 1 * 250) / 1000);
    assert.equal(report.requests, 2);
    assert.equal(report.windowMs, 1000);
  });

  it('starts each window afresh, carrying what is still in flight', () => {
    const meter = new ConcurrencyMeter(0);
    meter.started(0);
    meter.report(1000);
    const next = meter.report(3000);
    assert.deepEqual(next, { averageConcurrency: 1, requests: 0, windowMs: 2000 });
  });
});

describe('RouteTable', () => {
  const table = new RouteTable('localhost');
  table.set('hello', ['shop.example.com']);
  table.set('api', []);
  const rows = [
    { host: 'hello.localhost:8080', app: 'hello' },
    { host: 'HELLO.localhost', app: 'hello' },
    { host: 'shop.example.com', app: 'hello' },
    { host: 'api.localhost', app: 'api' },
    { host: 'nope.localhost:8080', app: undefined },
    { host: 'a.b.localhost', app: undefined },
    { host: 'hello.example.com', app: undefined },
    { host: '', app: undefined },
  ];
  for (const row of rows) it(`${row.host || '(no host)'} -> ${row.app ?? 'nothing'}`, () => assert.equal(table.resolve(RouteTable.hostname(row.host)), row.app));

  it('an app that goes away takes its hosts with it', () => {
    const routes = new RouteTable('localhost');
    routes.set('temp', ['temp.example.com']);
    routes.set('temp', ['other.example.com']);
    assert.equal(routes.resolve('temp.example.com'), undefined);
    routes.remove('temp');
    assert.equal(routes.resolve('other.example.com'), undefined);
    assert.deepEqual(routes.apps(), []);
  });
});

describe('pokeDue', () => {
  const never = Number.NEGATIVE_INFINITY;
  const rows = [
    { name: 'asleep, never poked', readyCount: 0, lastPokeMs: never, nowMs: 0, due: true },
    { name: 'asleep, poked 999 ms ago', readyCount: 0, lastPokeMs: 1, nowMs: 1000, due: false },
    { name: 'asleep, poked 1,000 ms ago', readyCount: 0, lastPokeMs: 0, nowMs: 1000, due: true },
    { name: 'one ready replica, never poked', readyCount: 1, lastPokeMs: never, nowMs: 5000, due: false },
  ];
  for (const row of rows) it(row.name, () => assert.equal(pokeDue(row.readyCount, row.lastPokeMs, row.nowMs), row.due));
});

describe('wakeStarts', () => {
  const rows = [
    { name: 'never poked', lastPokeMs: Number.NEGATIVE_INFINITY, nowMs: 0, starts: true },
    { name: 're-poked a second later, while still waking', lastPokeMs: 0, nowMs: 1000, starts: false },
    { name: 'poked exactly two periods ago', lastPokeMs: 0, nowMs: 2000, starts: false },
    { name: 'poked more than two periods ago', lastPokeMs: 0, nowMs: 2001, starts: true },
  ];
  for (const row of rows) it(row.name, () => assert.equal(wakeStarts(row.lastPokeMs, row.nowMs), row.starts));
});

describe('idleWaitMs', () => {
  const rows = [
    { name: 'deadline well past keep-alive: keep-alive and 500 ms', deadlineMs: 30_000, keepAliveMs: 5000, waitMs: 5500 },
    { name: 'deadline shorter than keep-alive: the deadline', deadlineMs: 1000, keepAliveMs: 5000, waitMs: 1000 },
    { name: 'deadline within the extra 500 ms: the deadline', deadlineMs: 5200, keepAliveMs: 5000, waitMs: 5200 },
  ];
  for (const row of rows) it(row.name, () => assert.equal(idleWaitMs(row.deadlineMs, row.keepAliveMs), row.waitMs));
});

describe('TraceRecorder', () => {
  it('records requests to a traced app that arrived since tracing began, relative to it, until stopped', () => {
    const traces = new TraceRecorder();
    const seen: number[][] = [];
    assert.equal(traces.tracing, false);
    const stop = traces.add('a', (arrivedMs, durationMs, status) => seen.push([arrivedMs, durationMs, status]), 100);
    assert.equal(traces.tracing, true);
    traces.record('a', 99, 5, 200); // arrived before tracing began
    traces.record('b', 150, 5, 200); // another app
    traces.record('a', 150, 7, 504);
    stop();
    traces.record('a', 200, 1, 200);
    assert.deepEqual(seen, [[50, 7, 504]]);
    assert.equal(traces.tracing, false, 'no app traced: the request path skips it');
  });

  it('two tracers of one app each get every request; stopping one keeps the other', () => {
    const traces = new TraceRecorder();
    const first: number[] = [];
    const second: number[] = [];
    const stopFirst = traces.add('a', (arrivedMs) => first.push(arrivedMs), 0);
    traces.add('a', (arrivedMs) => second.push(arrivedMs), 10);
    traces.record('a', 20, 1, 200);
    stopFirst();
    traces.record('a', 30, 1, 200);
    assert.deepEqual(first, [20]);
    assert.deepEqual(second, [10, 20]);
    assert.equal(traces.tracing, true);
  });
});

describe('httpsLocation', () => {
  it('keeps the target, names the HTTPS port unless 443, and drops the HTTP port of the host', () => {
    assert.equal(httpsLocation('shop.example.com', 443, '/cart?id=7'), 'https://shop.example.com/cart?id=7');
    assert.equal(httpsLocation('shop.example.com', 8443, '/'), 'https://shop.example.com:8443/');
    assert.equal(httpsLocation('shop.example.com', undefined, '/a'), 'https://shop.example.com/a');
  });
});
