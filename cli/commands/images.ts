import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { listLocalImages, removeLocalImage, stateLabelValue } from '../../builder/index.js';
import type { Revision } from '../../crds/index.js';
import { type Command, flagString } from '../command.js';
import { cliErrors } from '../errors.js';
import { formatAge, formatTable, print } from '../output.js';

const megabytes = (bytes: number) => `${Math.round(bytes / 1e6)} MB`;

export const images: Command = {
  name: 'images',
  usage: 'dormant images [--output json|yaml]',
  summary: 'List the base images and the apps’ images on this machine, with sizes',
  args: 0,
  async run({ io, output }) {
    const list = await listLocalImages();
    const now = io.now();
    print(io, output, list, () =>
      list.length === 0
        ? 'No images yet: bash hack/base-images.sh makes the bases; a push with a Dockerfile makes app images.\n'
        : formatTable(
            ['KIND', 'IMAGE', 'APP', 'REVISION', 'SIZE', 'CREATED'],
            list.map((i) => [i.kind, i.name, i.app ?? '', i.revision ?? '', megabytes(i.sizeBytes), `${formatAge(i.createdAt, now)} ago`]),
          ),
    );
    return undefined;
  },
};

export const gc: Command = {
  name: 'gc',
  usage: 'dormant gc [--keep 10]   (keeps each app’s serving revision and its newest N)',
  summary: 'Remove app images and release folders of revisions no longer kept',
  args: 0,
  options: { keep: { type: 'string' } },
  async run({ io, flags, store, stateDir }) {
    const keepText = flagString(flags, 'keep') ?? '10';
    const keep = Number(keepText);
    if (!Number.isInteger(keep) || keep < 1) throw cliErrors.usage({ problem: `--keep must be a whole number of at least 1, got "${keepText}"`, usage: gc.usage });
    const resources = await store();
    const apps = new Map((await resources.list('App')).map((a) => [a.metadata.name, a]));
    const byApp = new Map<string, Revision[]>();
    for (const revision of await resources.list('Revision')) byApp.set(revision.spec.app, [...(byApp.get(revision.spec.app) ?? []), revision]);
    const kept = new Set<string>();
    for (const [app, revisions] of byApp) {
      const newest = revisions.sort((a, b) => b.metadata.name.localeCompare(a.metadata.name)).slice(0, keep);
      for (const r of newest) kept.add(r.metadata.name);
      const serving = apps.get(app)?.status?.readyRevision;
      if (serving) kept.add(serving);
    }
    let freedBytes = 0;
    const removed: string[] = [];
    const skipped: string[] = [];
    // No podman: no images to collect. Any other failure is reported, not taken for "nothing to remove".
    const local = await listLocalImages().catch((error: unknown) => {
      if ((error as { code?: string }).code === 'BUILD_NO_PODMAN') return [];
      throw error;
    });
    // Only this Dormant's images: another state folder on this machine (another Dormant, a test) has its own. Unlabelled ones (older builds) count as ours when their app is.
    const ours = stateLabelValue(stateDir);
    for (const image of local.filter((i) => i.kind === 'app' && (i.state === undefined ? i.app !== undefined && byApp.has(i.app) : i.state === ours))) {
      if (image.revision && kept.has(image.revision)) continue;
      try {
        await removeLocalImage(image.name);
        freedBytes += image.sizeBytes;
        removed.push(image.name);
      } catch {
        skipped.push(`skipped ${image.name}: podman could not remove it (a container still uses it?); stop that container and run dormant gc again`);
      }
    }
    for (const [app, revisions] of byApp) {
      for (const revision of revisions) {
        if (kept.has(revision.metadata.name) || !revision.spec.releaseDir) continue;
        await rm(join(stateDir, 'releases', app, revision.metadata.name), { recursive: true, force: true });
      }
    }
    io.stdout.write(
      removed.length === 0
        ? `nothing to remove: every app image belongs to a kept revision (the serving one and the newest ${keep})\n`
        : `${removed.map((name) => `removed ${name}`).join('\n')}\n${removed.length} image${removed.length === 1 ? '' : 's'} removed (up to ${megabytes(freedBytes)}, less what they share with kept images)\n`,
    );
    for (const line of skipped) io.stderr.write(`${line}\n`);
    return undefined;
  },
};
