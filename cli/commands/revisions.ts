import { readFile } from 'node:fs/promises';
import type { App, Revision } from '../../crds/index.js';
import { buildLogFile, gitdErrors, releaseNumber, revisionNamed } from '../../gitd/index.js';
import type { ResourceStore } from '../../runtime/index.js';
import type { Command, CommandContext } from '../command.js';
import { formatAge, formatTable, print } from '../output.js';

const masked = '********';

/** A Revision as listed: its config's values masked, unless asked for. */
const shown = (revision: Revision, reveal: boolean): Revision =>
  reveal ? revision : { ...revision, spec: { ...revision.spec, run: { ...revision.spec.run, env: Object.fromEntries(Object.keys(revision.spec.run.env).map((key) => [key, masked])) } } };

export const revisionsList: Command = {
  name: 'releases',
  aliases: ['revisions'],
  usage: 'dormant releases APP [vN|REVISION] [--reveal] [--output json|yaml]   (or: dormant revisions APP [REVISION])',
  summary: "List an app's releases (its Revisions), newest first; * marks the one serving; with one named: its steps and build log",
  args: [1, 2],
  options: { reveal: { type: 'boolean' } },
  async run({ io, args, flags, output, store, stateDir }) {
    const [name = '', named] = args;
    const resources = await store();
    const app = await resources.get('App', name);
    if (named !== undefined) return showRevision({ io, output, stateDir, reveal: flags.reveal === true }, app, await revisionOf(resources, name, named));
    // Newest first by creation; names carry a sequence number, which breaks ties in a second.
    const revisions = (await resources.list('Revision', { namespace: 'default', labelSelector: { 'dormant.dev/app': name } })).sort(
      (a, b) => (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '') || b.metadata.name.localeCompare(a.metadata.name),
    );
    const serving = app.status?.readyRevision;
    const now = io.now();
    const reveal = flags.reveal === true;
    print(
      io,
      output,
      revisions.map((revision) => shown(revision, reveal)),
      () =>
        revisions.length === 0
          ? `${name} has no revisions yet; git push to deploy it.\n`
          : formatTable(
              ['', 'VERSION', 'NAME', 'CHANGE', 'BY', 'COMMIT', 'PHASE', 'AGE'],
              revisions.map((r) => [
                r.metadata.name === serving ? '*' : '',
                `v${releaseNumber(r.metadata.name)}`,
                r.metadata.name,
                r.spec.change?.description ?? `Deploy ${r.spec.commit.slice(0, 7)}`,
                (r.spec.change?.by ?? '').slice(0, 60),
                r.spec.commit.slice(0, 7),
                r.status?.phase ?? 'Pending',
                formatAge(r.metadata.creationTimestamp, now),
              ]),
            ),
    );
    return undefined;
  },
};

/** The Revision named vN or by its name, of this app; GITD_NO_SUCH_RELEASE names the known ones. */
async function revisionOf(store: ResourceStore, app: string, named: string): Promise<Revision> {
  const revisions = await store.list('Revision', { namespace: 'default', labelSelector: { 'dormant.dev/app': app } });
  const wanted = revisionNamed(app, named);
  const revision = revisions.find((r) => r.metadata.name === wanted);
  if (revision) return revision;
  const known = revisions.map((r) => `v${releaseNumber(r.metadata.name)}`).sort((a, b) => Number(b.slice(1)) - Number(a.slice(1)));
  throw gitdErrors.noSuchRelease({ app, release: named.slice(0, 80), known: known.length === 0 ? 'it has none' : known.slice(0, 10).join(', ') });
}

/** A step's time, to the precision its timestamps have (Kubernetes keeps whole seconds: then "< 1 s" or whole seconds, never a made-up "4.00 s"). */
const stepSeconds = (startedAt: string | undefined, finishedAt: string | undefined): string => {
  if (startedAt === undefined || finishedAt === undefined) return '';
  const seconds = (Date.parse(finishedAt) - Date.parse(startedAt)) / 1000;
  if (startedAt.includes('.') && finishedAt.includes('.')) return `${seconds.toFixed(2)} s`;
  return seconds < 1 ? '< 1 s' : `${Math.round(seconds)} s`;
};

/** One release: what made it, its build, each step with its time, and what the push said (its build log). */
async function showRevision(context: Pick<CommandContext, 'io' | 'output' | 'stateDir'> & { reveal: boolean }, app: App, revision: Revision): Promise<undefined> {
  const { io, output, stateDir } = context;
  const buildLog = await readFile(buildLogFile(stateDir, app.metadata.name, revision.metadata.name), 'utf8').catch(() => undefined);
  const steps = (revision.status?.steps ?? []).map((step) => ({ name: step.name, state: step.state, took: stepSeconds(step.startedAt, step.finishedAt), message: step.message ?? '' }));
  print(io, output, { revision: shown(revision, context.reveal), steps, buildLog: buildLog ?? null }, () => {
    const spec = revision.spec;
    const lines = [
      `v${releaseNumber(revision.metadata.name)} (${revision.metadata.name}) of ${app.metadata.name}${app.status?.readyRevision === revision.metadata.name ? ', serving' : ''}: ${revision.status?.phase ?? 'Pending'}`,
      `  change:  ${spec.change?.description ?? `Deploy ${spec.commit.slice(0, 7)}`}${spec.change?.by ? ` by ${spec.change.by}` : ''}, ${revision.metadata.creationTimestamp ?? ''}`,
      `  commit:  ${spec.commit}${spec.branch ? ` (${spec.branch})` : ''}${spec.change?.from ? `; the build of ${spec.change.from}` : ''}`,
      `  build:   ${spec.strategy}${spec.stack ? `, over ${spec.stack}` : ''}${revision.status?.image ? `, image ${revision.status.image}` : spec.image ? `, image ${spec.image}` : ''}`,
      ...(revision.status?.message ? [`  message: ${revision.status.message}`] : []),
      '',
      steps.length === 0 ? 'No steps recorded.' : formatTable(['STEP', 'STATE', 'TOOK', 'MESSAGE'], steps.map((s) => [s.name, s.state, s.took, s.message.slice(0, 100)])).trimEnd(),
      '',
      buildLog === undefined ? 'No build log is kept for it here (a release made before logs were kept, or another machine\'s).' : `Build log:\n${buildLog}`,
    ];
    return `${lines.join('\n')}\n`;
  });
  return undefined;
}
