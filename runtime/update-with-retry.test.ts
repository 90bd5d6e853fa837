import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { storeErrors } from './errors.js';
import { updateWithRetry } from './update-with-retry.js';

const conflict = () => storeErrors.conflict({ kind: 'App', namespace: 'default', name: 'web', given: '1', current: '2' });

describe('updateWithRetry', () => {
  const cases = [
    { name: 'a write that succeeds at once runs once', failures: [] as ('conflict' | 'other')[], attempts: 3, runs: 1, outcome: 'written' },
    { name: 'two conflicts, then a write: three runs', failures: ['conflict', 'conflict'] as const, attempts: 3, runs: 3, outcome: 'written' },
    { name: 'conflicts on every one of three attempts: the last is thrown', failures: ['conflict', 'conflict', 'conflict', 'conflict'] as const, attempts: 3, runs: 3, outcome: 'STORE_CONFLICT' },
    { name: 'another error is thrown at once', failures: ['other', 'conflict'] as const, attempts: 3, runs: 1, outcome: 'disk full' },
    { name: 'a conflict, then another error: that error', failures: ['conflict', 'other'] as const, attempts: 3, runs: 2, outcome: 'disk full' },
  ];
  for (const row of cases) {
    it(row.name, async () => {
      let runs = 0;
      const write = async () => {
        const failure = row.failures[runs++];
        if (failure === 'conflict') throw conflict();
        if (failure === 'other') throw new Error('disk full');
        return 'written';
      };
      const outcome = await updateWithRetry(write, row.attempts).catch((error: Error & { code?: string }) => error.code ?? error.message);
      assert.equal(outcome, row.outcome);
      assert.equal(runs, row.runs);
    });
  }
});
