import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DesiredApp, type PlannedReplica, planReplicas, type ReplicaPhase, type RuntimeAction, reconcile } from './reconcile.js';

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

describe('reconcile', () => {
  const at = (id: string, revision: string, phase: ReplicaPhase, sequence: number, restartAtMs?: number): PlannedReplica => ({ id, revision, phase, sequence, ...(restartAtMs === undefined ? {} : { restartAtMs }) });
  const serving = (revision: string | undefined, scale: number): DesiredApp => ({ revision, scale, rollout: undefined });
  const rollingOut = (revision: string, scale: number, firstSequence = 0): DesiredApp => ({ revision, scale, rollout: { revision, firstSequence } });
  const rows: readonly { name: string; desired: DesiredApp; replicas: PlannedReplica[]; nowMs: number; actions: RuntimeAction[]; nextMs?: number }[] = [
    { name: 'asleep and deployed: nothing to do, no timer', desired: serving('v1', 0), replicas: [], nowMs: 0, actions: [] },
    { name: 'a wake-up starts one replica', desired: serving('v1', 1), replicas: [], nowMs: 0, actions: [{ type: 'StartReplica', revision: 'v1' }] },
    {
      name: 'a crashed replica in back-off holds its place until its time',
      desired: serving('v1', 1),
      replicas: [at('a', 'v1', 'backoff', 1, 5000)],
      nowMs: 4999,
      actions: [],
      nextMs: 5000,
    },
    {
      name: 'at the end of its back-off a crashed replica is replaced',
      desired: serving('v1', 1),
      replicas: [at('a', 'v1', 'backoff', 1, 5000)],
      nowMs: 5000,
      actions: [
        { type: 'ForgetReplica', id: 'a' },
        { type: 'StartReplica', revision: 'v1' },
      ],
    },
    {
      name: 'the earliest back-off sets the next look',
      desired: serving('v1', 2),
      replicas: [at('a', 'v1', 'backoff', 1, 9000), at('b', 'v1', 'backoff', 2, 7000)],
      nowMs: 0,
      actions: [],
      nextMs: 7000,
    },
    {
      name: 'a rollout at zero keeps one replica to prove the revision',
      desired: rollingOut('v2', 0),
      replicas: [],
      nowMs: 0,
      actions: [{ type: 'StartReplica', revision: 'v2' }],
    },
    {
      name: 'a rollout is complete when the new replicas are ready and no old one serves',
      desired: rollingOut('v2', 1),
      replicas: [at('o', 'v1', 'ready', 1), at('n', 'v2', 'ready', 2)],
      nowMs: 0,
      actions: [
        { type: 'DrainReplica', id: 'o' },
        { type: 'CompleteRollout', revision: 'v2' },
      ],
    },
    {
      name: 'a rollout waits while its new replica starts',
      desired: rollingOut('v2', 1),
      replicas: [at('o', 'v1', 'ready', 1), at('n', 'v2', 'starting', 2)],
      nowMs: 0,
      actions: [],
    },
    {
      name: 'a crash of a replica started for the rollout fails it',
      desired: rollingOut('v2', 1, 2),
      replicas: [at('o', 'v1', 'ready', 1), at('n', 'v2', 'backoff', 2, 1000)],
      nowMs: 0,
      actions: [{ type: 'FailRollout', revision: 'v2', replica: 'n' }],
    },
    {
      name: 'a replica of the same revision that crashed before the rollout began does not fail it',
      desired: rollingOut('v2', 1, 5),
      replicas: [at('n', 'v2', 'backoff', 2, 1000)],
      nowMs: 0,
      actions: [],
      nextMs: 1000,
    },
    {
      name: 'a back-off replica of an older revision is drained, not waited for',
      desired: serving('v2', 1),
      replicas: [at('o', 'v1', 'backoff', 1, 9000), at('n', 'v2', 'ready', 2)],
      nowMs: 0,
      actions: [{ type: 'DrainReplica', id: 'o' }],
    },
    {
      name: 'a rollout not proven by its deadline fails, whatever its replicas are doing',
      desired: { revision: 'v2', scale: 1, rollout: { revision: 'v2', firstSequence: 2, deadlineMs: 60_000 } },
      replicas: [at('o', 'v1', 'ready', 1), at('n', 'v2', 'starting', 2)],
      nowMs: 60_000,
      actions: [{ type: 'FailRollout', revision: 'v2', replica: undefined }],
    },
    {
      name: 'before its deadline a rollout waits, and looks again at the deadline',
      desired: { revision: 'v2', scale: 1, rollout: { revision: 'v2', firstSequence: 2, deadlineMs: 60_000 } },
      replicas: [at('o', 'v1', 'ready', 1), at('n', 'v2', 'starting', 2)],
      nowMs: 59_999,
      actions: [],
      nextMs: 60_000,
    },
    {
      name: 'a rollout proven at its deadline completes',
      desired: { revision: 'v2', scale: 1, rollout: { revision: 'v2', firstSequence: 2, deadlineMs: 60_000 } },
      replicas: [at('n', 'v2', 'ready', 2)],
      nowMs: 60_000,
      actions: [{ type: 'CompleteRollout', revision: 'v2' }],
    },
    { name: 'nothing deployed: strays are drained, nothing starts', desired: serving(undefined, 0), replicas: [at('x', 'v1', 'ready', 1)], nowMs: 0, actions: [{ type: 'DrainReplica', id: 'x' }] },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(reconcile(row.desired, row.replicas, row.nowMs), { actions: row.actions, nextMs: row.nextMs });
    });
  }

  it('is idempotent once its actions are applied', () => {
    const desired = rollingOut('v2', 2);
    const replicas = [at('o1', 'v1', 'ready', 1), at('o2', 'v1', 'ready', 2), at('n1', 'v2', 'ready', 3), at('n2', 'v2', 'ready', 4)];
    const first = reconcile(desired, replicas, 0);
    assert.ok(first.actions.some((a) => a.type === 'CompleteRollout'));
    const drained = new Set(first.actions.flatMap((a) => (a.type === 'DrainReplica' ? [a.id] : [])));
    const after = replicas.map((r) => (drained.has(r.id) ? { ...r, phase: 'draining' as const } : r));
    assert.deepEqual(reconcile(serving('v2', 2), after, 0), { actions: [], nextMs: undefined });
  });
});
