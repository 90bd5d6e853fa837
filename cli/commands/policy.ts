import {
  type App,
  type AutoscalePolicy,
  AutoscalePolicySpecSchema,
  closest,
  defaultNamespace,
  type EffectivePolicy,
  formatProblem,
  policyFieldNames,
  resolvePolicy,
  validateAs,
} from '../../crds/index.js';
import { type ResourceStore, updateWithRetry } from '../../runtime/index.js';
import type { Command } from '../command.js';
import { cliErrors } from '../errors.js';
import type { Io } from '../io.js';
import { formatTable, type OutputFormat, print } from '../output.js';

const settable = ['policyRef', ...policyFieldNames] as const;

/** The AutoscalePolicies of the app's namespace by name, as resolvePolicy takes them. */
export async function namespacePolicies(store: ResourceStore, app: App): Promise<Map<string, AutoscalePolicy>> {
  const policies = await store.list('AutoscalePolicy', { namespace: app.metadata.namespace ?? defaultNamespace });
  return new Map(policies.map((policy) => [policy.metadata.name, policy]));
}

function printPolicy(io: Io, output: OutputFormat, app: App, effective: EffectivePolicy): void {
  const value = { app: app.metadata.name, policyRef: app.spec.autoscale.policyRef ?? null, policy: effective.policy ?? null, spec: effective.spec, sources: effective.sources };
  print(io, output, value, () =>
    formatTable(
      ['SETTING', 'VALUE', 'FROM'],
      policyFieldNames.map((key) => [key, effective.spec[key] === undefined ? 'unlimited' : String(effective.spec[key]), effective.sources[key]]),
    ),
  );
}

export const policyGet: Command = {
  name: 'policy get',
  usage: 'dormant policy get APP [--output json|yaml]',
  summary: "Show an app's autoscaling policy and where each value comes from",
  args: 1,
  async run({ io, args, output, store }) {
    const resources = await store();
    const app = await resources.get('App', args[0] ?? '');
    const effective = resolvePolicy(app, await namespacePolicies(resources, app));
    if (effective.missingRef !== undefined) {
      io.stderr.write(`warning: AutoscalePolicy "${effective.missingRef}" does not exist; showing the app without it\n`);
    }
    printPolicy(io, output, app, effective);
    return undefined;
  },
};

/** "key=value" sets an override, "key-" removes it (kubectl's label syntax). */
function parseAssignment(arg: string): { key: string; value: string | undefined } {
  if (arg.endsWith('-') && !arg.includes('=')) return { key: arg.slice(0, -1), value: undefined };
  const at = arg.indexOf('=');
  if (at <= 0) {
    throw cliErrors.usage({ problem: `"${arg}" is not key=value or key-`, usage: policySet.usage });
  }
  return { key: arg.slice(0, at), value: arg.slice(at + 1) };
}

export function typedValue(key: string, text: string): unknown {
  const schema = (AutoscalePolicySpecSchema.properties as Record<string, { type?: string }>)[key];
  if (schema?.type === 'integer' || schema?.type === 'number') {
    const n = Number(text);
    // Leave it a string so that validation reports it with the field's path.
    return text.trim() !== '' && Number.isFinite(n) ? n : text;
  }
  return text;
}

export const policySet: Command = {
  name: 'policy set',
  usage: 'dormant policy set APP key=value... [key-...]   (e.g. minScale=1 target=50 stableWindow=30s; key- removes an override)',
  summary: "Change an app's autoscaling settings (validated before anything is saved)",
  args: [2, 64],
  async run({ io, args, output, store }) {
    const [name = '', ...assignments] = args;
    const resources = await store();
    const edits = assignments.map(parseAssignment);
    for (const { key } of edits) {
      if (!(settable as readonly string[]).includes(key)) throw cliErrors.policyUnknownKey({ key, guess: closest(key, settable), known: settable });
    }
    // The edits are re-applied to a fresh read when the App changed meanwhile (its status is
    // written by the runtime and the autoscaler all the time), like kubectl's retry on conflict.
    const { updated, effective } = await updateWithRetry(async () => {
      const app = await resources.get('App', name);
      const autoscale: Record<string, unknown> = { ...app.spec.autoscale };
      for (const { key, value } of edits) {
        if (value === undefined) delete autoscale[key];
        else autoscale[key] = typedValue(key, value);
      }
      const candidate = validateAs('App', { ...app, spec: { ...app.spec, autoscale } });
      if (!candidate.ok) throw cliErrors.policyInvalid({ app: name, problems: candidate.problems.map(formatProblem) });
      const effective = resolvePolicy(candidate.object, await namespacePolicies(resources, candidate.object));
      if (effective.missingRef !== undefined) throw cliErrors.policyRefMissing({ policy: effective.missingRef });
      if (effective.problems.length > 0) {
        throw cliErrors.policyInvalid({
          app: name,
          problems: effective.problems.map((p) => `${formatProblem({ ...p, path: p.path.replace(/^spec\./, '') })} (in the merged policy: defaults, policy, app)`),
        });
      }
      return { updated: await resources.update(candidate.object), effective };
    }, 5);
    printPolicy(io, output, updated, effective);
    return undefined;
  },
};
