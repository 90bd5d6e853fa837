/**
 * Pushes that a stopped Dormant left half done. The push pipeline runs inside `dormant up`;
 * killed (kill -9, a crash, a reboot) while a push built or deployed, it leaves a Revision
 * in Building or Deploying that no process will ever finish, and its release folder. The
 * next start of gitd on the same state folder, before it takes pushes, marks them Failed
 * with reason Interrupted and removes their folders; the previous revision keeps serving.
 */
import { resolve } from 'node:path';
import type { App, PipelineStep, Revision } from '../crds/index.js';

export const interruptedReason = 'Interrupted';

/** The phases of a push under way: no revision stays in them once its push is over. */
const underWay: readonly string[] = ['Pending', 'Building', 'Deploying'];

export interface InterruptedInput {
  readonly revisions: readonly Revision[];
  readonly apps: readonly App[];
  /** This state folder's releases: only a revision whose release folder is RELEASES/APP/REVISION was pushed here. */
  readonly releasesDir: string;
  /** When the sweep runs, as status timestamps are written (2024-01-01T00:00:00Z). */
  readonly nowIso: string;
}

export interface AppStatusChange {
  readonly name: string;
  readonly namespace: string | undefined;
  /** The failed steps, when the interrupted push is the app's latest. */
  readonly latestRevisionSteps?: readonly PipelineStep[];
  /** When the app's serving revision was interrupted (Kubernetes publishes it before postDeploy): the one to go back to, or none. */
  readonly rollBack?: { readonly to: Revision | undefined };
}

export interface InterruptedSweep {
  /** The interrupted revisions with their new status. */
  readonly revisions: readonly Revision[];
  /** Their release folders (and image digest files), in releasesDir. */
  readonly paths: readonly string[];
  readonly apps: readonly AppStatusChange[];
}

/** Where the push pipeline puts a revision's release: any other folder was not made by a push here. */
const pushedHere = (releasesDir: string, revision: Revision, releaseDir: string): boolean =>
  resolve(releaseDir) === resolve(releasesDir, revision.spec.app, revision.metadata.name);

const revisionNumber = (revision: Revision): number => Number(/-(\d+)$/.exec(revision.metadata.name)?.[1] ?? 0);

/** What an interrupted revision's status becomes: Failed, reason Interrupted, its running step failed. */
function interruptedStatus(revision: Revision, nowIso: string): NonNullable<Revision['status']> {
  const status = revision.status ?? { phase: 'Building', steps: [] };
  const running = status.steps.find((step) => step.state === 'running');
  const what = running ? `during ${running.name}` : `while it was ${status.phase.toLowerCase()}`;
  const steps = status.steps.map((step) => (step.state === 'running' ? { ...step, state: 'failed' as const, finishedAt: nowIso, message: 'interrupted: Dormant stopped' } : step));
  return {
    ...status,
    phase: 'Failed',
    reason: interruptedReason,
    message: `interrupted: Dormant stopped ${what}; push again to deploy this commit`,
    steps,
  };
}

/** Decides which revisions an earlier Dormant left under way, and what changes for them. Pure. */
export function planInterruptedSweep(input: InterruptedInput): InterruptedSweep {
  const interrupted = new Map<string, Revision>();
  const paths: string[] = [];
  for (const revision of input.revisions) {
    const releaseDir = revision.spec.releaseDir;
    if (!underWay.includes(revision.status?.phase ?? 'Pending')) continue;
    // Another gitd's (another state folder's) or a hand-written one: not ours to judge, nor to delete.
    if (releaseDir === undefined || !pushedHere(input.releasesDir, revision, releaseDir)) continue;
    interrupted.set(`${revision.metadata.namespace ?? ''}/${revision.metadata.name}`, { ...revision, status: interruptedStatus(revision, input.nowIso) });
    paths.push(resolve(releaseDir), `${resolve(releaseDir)}.digest`);
  }
  const apps: AppStatusChange[] = [];
  for (const app of input.apps) {
    const namespace = app.metadata.namespace;
    const key = (name: string) => `${namespace ?? ''}/${name}`;
    const latest = app.status?.latestRevision === undefined ? undefined : interrupted.get(key(app.status.latestRevision));
    const serving = app.status?.readyRevision === undefined ? undefined : interrupted.get(key(app.status.readyRevision));
    if (!latest && !serving) continue;
    let rollBack: AppStatusChange['rollBack'];
    if (serving) {
      const to = input.revisions
        .filter((r) => r.spec.app === app.metadata.name && r.metadata.namespace === namespace && r.status?.phase === 'Ready' && revisionNumber(r) < revisionNumber(serving))
        .sort((a, b) => revisionNumber(b) - revisionNumber(a))[0];
      rollBack = { to };
    }
    apps.push({
      name: app.metadata.name,
      namespace,
      ...(latest ? { latestRevisionSteps: latest.status?.steps ?? [] } : {}),
      ...(rollBack ? { rollBack } : {}),
    });
  }
  return { revisions: [...interrupted.values()], paths, apps };
}
