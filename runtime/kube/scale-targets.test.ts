import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DesiredApp, type PlannedReplica, type ReplicaPhase, reconcile } from '../core/index.js';
import { scaleTargets } from './scale-targets.js';

const pod = (id: string, revision: string, phase: ReplicaPhase, sequence: number): PlannedReplica => ({ id, revision, phase, sequence });
const serving = (revision: string, scale: number): DesiredApp => ({ revision, scale, rollout: undefined });
const rollingOut = (revision: string, scale: number): DesiredApp => ({ revision, scale, rollout: { revision, firstSequence: 0 } });

describe('scaleTargets: the reconciler on Deployments', () => {
  const rows: readonly { name: string; desired: DesiredApp; pods: PlannedReplica[]; deployments: string[]; targets: Record<string, number> }[] = [
    { name: 'a wake-up from zero scales the serving Deployment to one', desired: serving('v1', 1), pods: [], deployments: ['v1'], targets: { v1: 1 } },
    { name: 'pods still being created count as started: no change', desired: serving('v1', 3), pods: [pod('a', 'v1', 'starting', 1)], deployments: ['v1'], targets: { v1: 3 } },
    { name: 'scale to zero', desired: serving('v1', 0), pods: [pod('a', 'v1', 'ready', 1), pod('b', 'v1', 'ready', 2)], deployments: ['v1'], targets: { v1: 0 } },
    { name: 'a terminating pod is not counted: the Deployment keeps the desired scale', desired: serving('v1', 1), pods: [pod('a', 'v1', 'draining', 1)], deployments: ['v1'], targets: { v1: 1 } },
    {
      name: 'a rollout scales the new Deployment up and keeps the old one while nothing new is ready',
      desired: rollingOut('v2', 2),
      pods: [pod('o1', 'v1', 'ready', 1), pod('o2', 'v1', 'ready', 2)],
      deployments: ['v1', 'v2'],
      targets: { v1: 2, v2: 2 },
    },
    {
      name: 'each new pod ready takes one old pod away',
      desired: rollingOut('v2', 2),
      pods: [pod('o1', 'v1', 'ready', 1), pod('o2', 'v1', 'ready', 2), pod('n1', 'v2', 'ready', 3), pod('n2', 'v2', 'starting', 4)],
      deployments: ['v1', 'v2'],
      targets: { v1: 1, v2: 2 },
    },
    {
      name: 'older Deployments without pods go to zero',
      desired: serving('v3', 1),
      pods: [pod('n', 'v3', 'ready', 5)],
      deployments: ['v1', 'v2', 'v3'],
      targets: { v1: 0, v2: 0, v3: 1 },
    },
    { name: 'a rollout at zero proves the revision with one pod', desired: rollingOut('v2', 0), pods: [], deployments: ['v1', 'v2'], targets: { v1: 0, v2: 1 } },
    { name: 'a crash-looping pod counts as present: Kubernetes restarts it', desired: serving('v1', 1), pods: [pod('a', 'v1', 'backoff', 1)], deployments: ['v1'], targets: { v1: 1 } },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const { actions } = reconcile(row.desired, row.pods, 0);
      assert.deepEqual(Object.fromEntries(scaleTargets(row.pods, actions, row.deployments)), row.targets);
    });
  }
});
