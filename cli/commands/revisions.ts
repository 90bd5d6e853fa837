import type { Command } from '../command.js';
import { formatAge, formatTable, print } from '../output.js';

export const revisionsList: Command = {
  name: 'revisions',
  usage: 'dormant revisions APP [--output json|yaml]',
  summary: "List an app's revisions, newest first; * marks the one serving",
  args: 1,
  async run({ io, args, output, store }) {
    const [name = ''] = args;
    const resources = await store();
    const app = await resources.get('App', name);
    // Newest first by creation; names carry a sequence number, which breaks ties in a second.
    const revisions = (await resources.list('Revision', { namespace: 'default', labelSelector: { 'dormant.dev/app': name } })).sort(
      (a, b) => (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '') || b.metadata.name.localeCompare(a.metadata.name),
    );
    const serving = app.status?.readyRevision;
    const now = io.now();
    print(io, output, revisions, () =>
      revisions.length === 0
        ? `${name} has no revisions yet; git push to deploy it.\n`
        : formatTable(
            ['', 'NAME', 'COMMIT', 'PHASE', 'AGE'],
            revisions.map((r) => [
              r.metadata.name === serving ? '*' : '',
              r.metadata.name,
              r.spec.commit.slice(0, 7),
              r.status?.phase ?? 'Pending',
              formatAge(r.metadata.creationTimestamp, now),
            ]),
          ),
    );
    return undefined;
  },
};
