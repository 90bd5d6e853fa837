import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import type { PlannedReplica, RuntimeAction } from './reconcile.js';
import { ReconcileLoop } from './reconcile-loop.js';

describe('ReconcileLoop', () => {
  it('performs the actions, settles with them, reconciles again after a rollout ends, and at the back-off end it was told', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      let now = 0;
      let rolling = true;
      const replicas: PlannedReplica[] = [{ id: 'a', revision: 'v1', phase: 'ready', sequence: 1 }];
      const performed: string[] = [];
      const settled: (readonly RuntimeAction[])[] = [];
      const loop = new ReconcileLoop(
        {
          observe: () => ({ desired: { revision: 'v1', scale: 2, rollout: rolling ? { revision: 'v1', firstSequence: 0 } : undefined }, replicas }),
          perform: (action) => {
            performed.push(action.type);
            if (action.type === 'CompleteRollout') rolling = false;
            return action.type === 'CompleteRollout';
          },
          settle: (_replicas, actions) => settled.push(actions),
        },
        () => now,
      );
      loop.run();
      assert.deepEqual(performed, ['StartReplica']);
      // The started replica is ready: the rollout completes, and the loop looks again at once.
      replicas.push({ id: 'b', revision: 'v1', phase: 'ready', sequence: 2 });
      loop.run();
      assert.deepEqual(performed, ['StartReplica', 'CompleteRollout']);
      await new Promise<void>((resolve) => queueMicrotask(resolve));
      assert.equal(settled.length, 3, 'reconciled again after the rollout ended');
      // A replica in back-off until 5 s: nothing until then, then it is replaced.
      replicas.splice(1, 1, { id: 'b', revision: 'v1', phase: 'backoff', sequence: 2, restartAtMs: 5000 });
      loop.run();
      assert.deepEqual(performed.slice(2), []);
      now = 5000;
      mock.timers.tick(5000);
      assert.deepEqual(performed.slice(2), ['ForgetReplica', 'StartReplica']);
      loop.stop();
      loop.run();
      assert.deepEqual(performed.slice(4), [], 'a stopped loop does nothing');
    } finally {
      mock.timers.reset();
    }
  });
});
