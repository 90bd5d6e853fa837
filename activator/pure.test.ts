import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pickTwoChoices } from './balancer.js';
import { ConcurrencyMeter } from './concurrency-meter.js';
import { type Held, HoldQueue } from './hold-queue.js';
import { RouteTable } from './route-table.js';

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
