// Who holds a Lease next, without a cluster.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { leaseDecision } from './lease.js';

it('a candidate takes a missing, empty or expired Lease, renews its own, and waits for a live holder', () => {
  const now = 100_000;
  assert.deepEqual(leaseDecision(undefined, 'b', now), { action: 'take', transition: false });
  assert.deepEqual(leaseDecision({ holder: '', renewedAtMs: now, durationMs: 10_000 }, 'b', now), { action: 'take', transition: true }, 'released');
  assert.deepEqual(leaseDecision({ holder: 'b', renewedAtMs: now - 60_000, durationMs: 10_000 }, 'b', now), { action: 'renew' }, 'its own, even late');
  assert.deepEqual(leaseDecision({ holder: 'a', renewedAtMs: now - 9_000, durationMs: 10_000 }, 'b', now), { action: 'wait', holder: 'a' });
  assert.deepEqual(leaseDecision({ holder: 'a', renewedAtMs: now - 10_001, durationMs: 10_000 }, 'b', now), { action: 'take', transition: true });
  assert.deepEqual(leaseDecision({ holder: 'a', renewedAtMs: undefined, durationMs: 10_000 }, 'b', now), { action: 'take', transition: true });
});
