import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { probeDelayMs } from './readiness-probe.js';

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
