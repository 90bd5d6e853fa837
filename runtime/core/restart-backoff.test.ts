import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextFailureCount, restartDelayMs } from './restart-backoff.js';

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
