import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ColdStartLog, percentile } from './cold-starts.js';

describe('ColdStartLog', () => {
  it('sums up the waits recorded since a time, nearest-rank percentiles', () => {
    const log = new ColdStartLog(8);
    assert.deepEqual(log.summary(0), { count: 0, p50Ms: null, p99Ms: null });
    for (const [at, waited] of [[100, 40], [200, 10], [300, 30], [400, 20]] as const) log.record(at, waited);
    assert.deepEqual(log.summary(0), { count: 4, p50Ms: 20, p99Ms: 40 });
    assert.deepEqual(log.summary(250), { count: 2, p50Ms: 20, p99Ms: 30 });
  });

  it('keeps the newest `capacity` only', () => {
    const log = new ColdStartLog(3);
    for (let i = 1; i <= 5; i++) log.record(i, i * 10);
    assert.deepEqual(log.summary(0), { count: 3, p50Ms: 40, p99Ms: 50 });
  });

  it('percentile', () => {
    assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50), 5);
    assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99), 10);
    assert.equal(percentile([7], 1), 7);
  });
});
