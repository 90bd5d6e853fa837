import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type App, apiVersion, type PipelineStep, type Revision } from '../crds/index.js';
import { type InterruptedInput, planInterruptedSweep } from './interrupted-pushes.js';

const releasesDir = '/state/releases';
const nowIso = '2026-01-02T03:04:05Z';
const at = '2026-01-02T03:00:00Z';

type Phase = NonNullable<Revision['status']>['phase'];

const stepsAt = (running: string | undefined): PipelineStep[] => {
  const names = ['checkout', 'build', 'image', 'deploy', 'postDeploy'];
  const index = running === undefined ? names.length : names.indexOf(running);
  return names.map((name, i) =>
    i < index ? { name, state: 'succeeded', startedAt: at, finishedAt: at } : i === index ? { name, state: 'running', startedAt: at } : { name, state: 'pending' },
  );
};

function revision(name: string, phase: Phase, options: { running?: string; releaseDir?: string | null; namespace?: string } = {}): Revision {
  const app = name.replace(/-\d+$/, '');
  const releaseDir = options.releaseDir === undefined ? `${releasesDir}/${app}/${name}` : options.releaseDir;
  return {
    apiVersion,
    kind: 'Revision',
    metadata: { name, namespace: options.namespace ?? 'default', labels: { 'dormant.dev/app': app } },
    spec: { app, commit: 'a'.repeat(40), strategy: 'auto', ...(releaseDir === null ? {} : { releaseDir }), run: { env: {} } } as Revision['spec'],
    status: { phase, steps: stepsAt(phase === 'Ready' ? undefined : options.running) },
  };
}

function app(name: string, status: { latest?: string; ready?: string }): App {
  return {
    apiVersion,
    kind: 'App',
    metadata: { name, namespace: 'default' },
    spec: {} as App['spec'],
    status: { ...(status.latest ? { latestRevision: status.latest } : {}), ...(status.ready ? { readyRevision: status.ready } : {}) },
  };
}

interface Row {
  readonly name: string;
  readonly input: Omit<InterruptedInput, 'releasesDir' | 'nowIso'>;
  /** Interrupted revisions by name, with the step that was running. */
  readonly interrupted: readonly string[];
  readonly paths: readonly string[];
  readonly apps: readonly { name: string; latestSteps: boolean; rollBackTo?: string | null }[];
}

const rows: Row[] = [
  {
    name: 'a revision Building here: interrupted, its folder and digest removed, the app shows the failed steps',
    input: { revisions: [revision('web-00001', 'Ready'), revision('web-00002', 'Building', { running: 'build' })], apps: [app('web', { latest: 'web-00002', ready: 'web-00001' })] },
    interrupted: ['web-00002'],
    paths: ['/state/releases/web/web-00002', '/state/releases/web/web-00002.digest'],
    apps: [{ name: 'web', latestSteps: true }],
  },
  {
    name: 'a revision Deploying here during postDeploy, already serving (Kubernetes): back to the newest Ready one before it, over a Failed one',
    input: {
      revisions: [revision('web-00001', 'Ready'), revision('web-00002', 'Ready'), revision('web-00003', 'Failed'), revision('web-00004', 'Deploying', { running: 'postDeploy' })],
      apps: [app('web', { latest: 'web-00004', ready: 'web-00004' })],
    },
    interrupted: ['web-00004'],
    paths: ['/state/releases/web/web-00004', '/state/releases/web/web-00004.digest'],
    apps: [{ name: 'web', latestSteps: true, rollBackTo: 'web-00002' }],
  },
  {
    name: 'a first push interrupted while serving: nothing to go back to',
    input: { revisions: [revision('new-00001', 'Deploying', { running: 'postDeploy' })], apps: [app('new', { latest: 'new-00001', ready: 'new-00001' })] },
    interrupted: ['new-00001'],
    paths: ['/state/releases/new/new-00001', '/state/releases/new/new-00001.digest'],
    apps: [{ name: 'new', latestSteps: true, rollBackTo: null }],
  },
  {
    name: 'Ready and Failed revisions: untouched',
    input: { revisions: [revision('web-00001', 'Ready'), revision('web-00002', 'Failed')], apps: [app('web', { latest: 'web-00002', ready: 'web-00001' })] },
    interrupted: [],
    paths: [],
    apps: [],
  },
  {
    name: 'Building in another state folder (another gitd on the same cluster): untouched',
    input: { revisions: [revision('web-00002', 'Building', { running: 'build', releaseDir: '/other/releases/web/web-00002' })], apps: [app('web', { latest: 'web-00002' })] },
    interrupted: [],
    paths: [],
    apps: [],
  },
  {
    name: 'Building with a release folder that climbs out of the releases (hand-written): untouched, nothing deleted',
    input: { revisions: [revision('web-00002', 'Building', { releaseDir: '/state/releases/../../etc' }), revision('web-00003', 'Building', { releaseDir: '/etc' })], apps: [] },
    interrupted: [],
    paths: [],
    apps: [],
  },
  {
    name: 'Building with the releases folder itself as release folder: untouched',
    input: { revisions: [revision('web-00002', 'Building', { releaseDir: '/state/releases' })], apps: [] },
    interrupted: [],
    paths: [],
    apps: [],
  },
  {
    name: "Building with another revision's or another app's release folder (hand-written): untouched",
    input: {
      revisions: [
        revision('web-00002', 'Building', { releaseDir: '/state/releases/web/web-00001' }),
        revision('web-00003', 'Building', { releaseDir: '/state/releases/other' }),
      ],
      apps: [],
    },
    interrupted: [],
    paths: [],
    apps: [],
  },
  {
    name: 'Building without a release folder: untouched',
    input: { revisions: [revision('web-00002', 'Building', { releaseDir: null })], apps: [] },
    interrupted: [],
    paths: [],
    apps: [],
  },
  {
    name: 'Pending here: interrupted; an app whose latest is another revision is left alone',
    input: { revisions: [revision('a-00001', 'Pending'), revision('b-00001', 'Ready')], apps: [app('b', { latest: 'b-00001', ready: 'b-00001' })] },
    interrupted: ['a-00001'],
    paths: ['/state/releases/a/a-00001', '/state/releases/a/a-00001.digest'],
    apps: [],
  },
  {
    name: 'same name in another namespace: only the interrupted one counts',
    input: {
      revisions: [revision('web-00002', 'Building', { running: 'build', namespace: 'team' })],
      apps: [app('web', { latest: 'web-00002', ready: 'web-00002' })],
    },
    interrupted: ['web-00002'],
    paths: ['/state/releases/web/web-00002', '/state/releases/web/web-00002.digest'],
    apps: [],
  },
];

describe('planInterruptedSweep', () => {
  for (const row of rows) {
    it(row.name, () => {
      const sweep = planInterruptedSweep({ ...row.input, releasesDir, nowIso });
      assert.deepEqual(
        sweep.revisions.map((r) => r.metadata.name),
        row.interrupted,
      );
      assert.deepEqual(sweep.paths, row.paths);
      assert.deepEqual(
        sweep.apps.map((a) => ({
          name: a.name,
          latestSteps: a.latestRevisionSteps !== undefined,
          ...(a.rollBack ? { rollBackTo: a.rollBack.to?.metadata.name ?? null } : {}),
        })),
        row.apps,
      );
    });
  }

  it('an interrupted revision: Failed, reason Interrupted, its running step failed now, later steps still pending', () => {
    const [swept] = planInterruptedSweep({ revisions: [revision('web-00002', 'Deploying', { running: 'deploy' })], apps: [], releasesDir, nowIso }).revisions;
    assert.equal(swept?.status?.phase, 'Failed');
    assert.equal(swept?.status?.reason, 'Interrupted');
    assert.equal(swept?.status?.message, 'interrupted: Dormant stopped during deploy; push again to deploy this commit');
    assert.deepEqual(
      swept?.status?.steps.map((s) => [s.name, s.state, s.finishedAt]),
      [
        ['checkout', 'succeeded', at],
        ['build', 'succeeded', at],
        ['image', 'succeeded', at],
        ['deploy', 'failed', nowIso],
        ['postDeploy', 'pending', undefined],
      ],
    );
  });
});
