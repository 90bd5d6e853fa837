import { stringify } from 'yaml';
import { defaultNamespace, type DormantObject, formatProblem, isKindName, validateAs } from '../../crds/index.js';
import { storeErrors } from '../../runtime/index.js';
import { planApply, refuseRevisions } from '../apply-plan.js';
import type { Command } from '../command.js';
import { flagString } from '../command.js';
import { cliErrors } from '../errors.js';
import { manifestLimits, manifestOptions, readManifests } from '../manifest-input.js';
import { unifiedDiff } from '../unified-diff.js';
import { findLive } from './apply.js';

/** The part of an object apply decides: what apply compares, and what diff shows. */
function view(object: DormantObject): string {
  const { name, namespace, labels, annotations, ownerReferences } = object.metadata;
  const metadata = { name, namespace: namespace ?? defaultNamespace, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}), ...(ownerReferences ? { ownerReferences } : {}) };
  return stringify({ apiVersion: object.apiVersion, kind: object.kind, metadata, spec: object.spec }, { sortMapEntries: true, lineWidth: 0 });
}

export const diff: Command = {
  name: 'diff',
  usage: 'dormant diff -f FILE|FOLDER|- [--max-file-mb 1] [--max-yaml-aliases 100]   (exit 0: no change, 1: changes, 2: error)',
  summary: 'Show what dormant apply -f would change, like kubectl diff; changes nothing',
  args: 0,
  options: manifestOptions,
  // kubectl diff's convention: 1 means "there are differences", so a failure is above 1.
  failureExitCode: 2,
  async run({ io, flags, store }) {
    const source = flagString(flags, 'filename');
    if (source === undefined) throw cliErrors.usage({ problem: 'diff needs -f FILE (or -f - for stdin)', usage: diff.usage });
    const manifests = await readManifests(io, source, manifestLimits(flags, io.env, diff.usage));
    refuseRevisions(manifests);
    const resources = await store();
    let changed = false;
    for (const { object } of manifests) {
      const live = await findLive(resources, object);
      const plan = planApply(object, live);
      if (plan.predicted === undefined) {
        // What the store would answer to apply, said before anything is written.
        const kind: unknown = object?.kind;
        const namespace = object?.metadata?.namespace ?? defaultNamespace;
        const name = String(object?.metadata?.name);
        if (!isKindName(kind)) throw storeErrors.invalid({ kind: String(kind), namespace, name, problems: [`kind: ${JSON.stringify(kind)} is not a Dormant kind; use App or AutoscalePolicy`] });
        const result = validateAs(kind, plan.object);
        throw storeErrors.invalid({ kind, namespace, name, problems: result.ok ? [] : result.problems.map(formatProblem) });
      }
      const text = unifiedDiff(live ? view(live) : '', view(plan.predicted), {
        before: live ? `${plan.label} (live)` : '/dev/null',
        after: `${plan.label} (after apply)`,
      });
      if (text === '') continue;
      changed = true;
      io.stdout.write(`diff -u ${plan.label}\n${text}`);
    }
    return changed ? 1 : 0;
  },
};
