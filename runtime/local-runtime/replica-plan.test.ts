import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type PlannedReplica, planReplicas, type ReplicaPhase } from './replica-plan.js';

let sequence = 0;
const r = (id: string, revision: string, phase: ReplicaPhase): PlannedReplica => ({ id, revision, phase, sequence: sequence++ });

const rows: readonly { name: string; desired: number; revision: string | undefined; replicas: PlannedReplica[]; start: number; drain: string[] }[] = [
  { name: 'nothing deployed, nothing running', desired: 1, revision: undefined, replicas: [], start: 0, drain: [] },
  { name: 'nothing deployed drains strays', desired: 0, revision: undefined, replicas: [r('x', 'v1', 'ready')], start: 0, drain: ['x'] },
  { name: 'zero to three starts three', desired: 3, revision: 'v1', replicas: [], start: 3, drain: [] },
  { name: 'one starting of two desired starts one more', desired: 2, revision: 'v1', replicas: [r('a', 'v1', 'starting')], start: 1, drain: [] },
  { name: 'at the desired count does nothing', desired: 2, revision: 'v1', replicas: [r('a', 'v1', 'ready'), r('b', 'v1', 'starting')], start: 0, drain: [] },
  { name: 'a replica in restart backoff counts as present', desired: 1, revision: 'v1', replicas: [r('a', 'v1', 'backoff')], start: 0, drain: [] },
  { name: 'draining replicas do not count', desired: 1, revision: 'v1', replicas: [r('a', 'v1', 'draining')], start: 1, drain: [] },
  {
    name: 'scale down drains backoff, then starting, then the newest ready',
    desired: 1,
    revision: 'v1',
    replicas: [r('old-ready', 'v1', 'ready'), r('new-ready', 'v1', 'ready'), r('booting', 'v1', 'starting'), r('waiting', 'v1', 'backoff')],
    start: 0,
    drain: ['waiting', 'booting', 'new-ready'],
  },
  { name: 'scale to zero drains all', desired: 0, revision: 'v1', replicas: [r('a', 'v1', 'ready'), r('b', 'v1', 'ready')], start: 0, drain: ['b', 'a'] },
  {
    name: 'rollout starts new replicas and keeps old ones serving',
    desired: 2,
    revision: 'v2',
    replicas: [r('o1', 'v1', 'ready'), r('o2', 'v1', 'ready')],
    start: 2,
    drain: [],
  },
  {
    name: 'rollout drains one old replica per new ready one',
    desired: 2,
    revision: 'v2',
    replicas: [r('o1', 'v1', 'ready'), r('o2', 'v1', 'ready'), r('n1', 'v2', 'ready'), r('n2', 'v2', 'starting')],
    start: 0,
    drain: ['o2'],
  },
  {
    name: 'rollout done drains every old replica',
    desired: 2,
    revision: 'v2',
    replicas: [r('o1', 'v1', 'ready'), r('n1', 'v2', 'ready'), r('n2', 'v2', 'ready')],
    start: 0,
    drain: ['o1'],
  },
  {
    name: 'old replicas that do not serve go at once',
    desired: 1,
    revision: 'v2',
    replicas: [r('o1', 'v1', 'backoff'), r('o2', 'v1', 'starting'), r('o3', 'v1', 'ready')],
    start: 1,
    drain: ['o1', 'o2'],
  },
  {
    name: 'rollback to an older revision treats the newer as old',
    desired: 1,
    revision: 'v1',
    replicas: [r('n1', 'v2', 'ready'), r('o1', 'v1', 'ready')],
    start: 0,
    drain: ['n1'],
  },
];

describe('planReplicas', () => {
  for (const row of rows) {
    it(row.name, () => {
      const plan = planReplicas({ desired: row.desired, revision: row.revision, replicas: row.replicas });
      assert.deepEqual(plan, { start: row.start, drain: row.drain });
    });
  }

  it('is idempotent: applying the plan and planning again asks for nothing more', () => {
    const replicas = [r('o1', 'v1', 'ready'), r('o2', 'v1', 'ready'), r('n1', 'v2', 'ready'), r('n2', 'v2', 'ready')];
    const first = planReplicas({ desired: 2, revision: 'v2', replicas });
    const after = replicas.map((x) => (first.drain.includes(x.id) ? { ...x, phase: 'draining' as const } : x));
    assert.deepEqual(planReplicas({ desired: 2, revision: 'v2', replicas: after }), { start: 0, drain: [] });
  });
});
