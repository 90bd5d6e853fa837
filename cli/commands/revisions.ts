import type { Revision } from '../../crds/index.js';
import { releaseNumber } from '../../gitd/index.js';
import type { Command } from '../command.js';
import { formatAge, formatTable, print } from '../output.js';

const masked = '********';

/** A Revision as listed: its config's values masked, unless asked for. */
const shown = (revision: Revision, reveal: boolean): Revision =>
  reveal ? revision : { ...revision, spec: { ...revision.spec, run: { ...revision.spec.run, env: Object.fromEntries(Object.keys(revision.spec.run.env).map((key) => [key, masked])) } } };

export const revisionsList: Command = {
  name: 'releases',
  aliases: ['revisions'],
  usage: 'dormant releases APP [--reveal] [--output json|yaml]   (or: dormant revisions APP)',
  summary: "List an app's releases (its Revisions), newest first; * marks the one serving",
  args: 1,
  options: { reveal: { type: 'boolean' } },
  async run({ io, args, flags, output, store }) {
    const [name = ''] = args;
    const resources = await store();
    const app = await resources.get('App', name);
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
