import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextFailureCount, probeDelayMs, restartDelayMs } from './timing.js';

describe('probeDelayMs', () => {
  const rows = [
    { elapsedMs: 0, delay: 2 },
    { elapsedMs: 999, delay: 2 },
    { elapsedMs: 1000, delay: 10 },
    { elapsedMs: 5000, delay: 50 },
    { elapsedMs: 20_000, delay: 100 },
    { elapsedMs: 3_600_000, delay: 100 },
  ];
  for (const row of rows) it(`after ${row.elapsedMs} ms of starting, probes again in ${row.delay} ms`, () => assert.equal(probeDelayMs(row.elapsedMs), row.delay));
});

describe('restart backoff', () => {
  const backoff = { baseMs: 1000, maxMs: 10_000, resetAfterMs: 60_000 };
  const rows = [
    { failures: 1, delay: 1000 },
    { failures: 2, delay: 2000 },
    { failures: 3, delay: 4000 },
    { failures: 4, delay: 8000 },
    { failures: 5, delay: 10_000 },
    { failures: 500, delay: 10_000 },
  ];
  for (const row of rows) it(`failure ${row.failures} waits ${row.delay} ms`, () => assert.equal(restartDelayMs(row.failures, backoff), row.delay));

  it('a replica that never got ready adds a failure', () => assert.equal(nextFailureCount(3, undefined, backoff), 4));
  it('a replica ready for a short while adds a failure', () => assert.equal(nextFailureCount(3, 59_999, backoff), 4));
  it('a replica ready for resetAfterMs starts the count over', () => assert.equal(nextFailureCount(3, 60_000, backoff), 1));
});
