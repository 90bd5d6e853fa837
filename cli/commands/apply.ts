import { isKindName } from '../../crds/index.js';
import { type ObjectInput, type ResourceStore, updateWithRetry } from '../../runtime/index.js';
import { planApply, refuseRevisions, removalLine } from '../apply-plan.js';
import type { Command } from '../command.js';
import { flagString } from '../command.js';
import { cliErrors } from '../errors.js';
import { manifestLimits, manifestOptions, readManifests } from '../manifest-input.js';

/** The live object apply merges into, if there is one. */
export async function findLive(resources: ResourceStore, object: ObjectInput) {
  const kind: unknown = object?.kind;
  const name = object?.metadata?.name;
  return isKindName(kind) && typeof name === 'string' ? await resources.find(kind, name, object.metadata.namespace) : undefined;
}

/** Creates or three-way-merges one object; returns what happened ("app.dormant.dev/x created"), after a line per field it removed. */
async function applyOne(resources: ResourceStore, object: ObjectInput): Promise<string> {
  const plan = planApply(object, await findLive(resources, object));
  if (plan.action === 'create') {
    await resources.create(plan.object);
    return `${plan.label} created`;
  }
  if (plan.action === 'unchanged') return `${plan.label} unchanged`;
  await resources.update(plan.object);
  // kubectl removes these silently; we say so, once the update went through.
  return [...plan.removed.map((field) => removalLine(plan.label, field)), `${plan.label} configured`].join('\n');
}

export const apply: Command = {
  name: 'apply',
  usage: 'dormant apply -f FILE|FOLDER|- [--max-file-mb 1] [--max-yaml-aliases 100]   (YAML or JSON; several documents separated by ---)',
  summary: 'Create or update objects from a file, like kubectl apply',
  args: 0,
  options: manifestOptions,
  async run({ io, flags, store }) {
    const source = flagString(flags, 'filename');
    if (source === undefined) throw cliErrors.usage({ problem: 'apply needs -f FILE (or -f - for stdin)', usage: apply.usage });
    const manifests = await readManifests(io, source, manifestLimits(flags, io.env, apply.usage));
    refuseRevisions(manifests);
    const resources = await store();
    // Every object is checked by the store; a failure stops before the later documents.
    for (const { object } of manifests) {
      // A status write between our read and our update is a conflict: read again and merge again.
      io.stdout.write(`${await updateWithRetry(() => applyOne(resources, object), 5)}\n`);
    }
    return undefined;
  },
};
