import { stat, writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { parseTrace, renderChart, type ScalingPolicy, scalingPolicy, type SimulationResult, simulate } from '../../autoscaler/index.js';
import {
  apiVersion,
  type App,
  type AutoscalePolicySpec,
  closest,
  formatProblem,
  parseDuration,
  policyDefaults,
  policyFieldNames,
  resolvePolicy as resolveAppPolicy,
  validateAs,
} from '../../crds/index.js';
import type { ResourceStore } from '../../runtime/index.js';
import { type Command, type CommandContext, flagString, flagStrings } from '../command.js';
import { cliErrors } from '../errors.js';
import { readSource } from '../io.js';
import { manifestLimits, readManifests } from '../manifest-input.js';
import { formatTable, print } from '../output.js';
import { namespacePolicies, typedValue } from './policy.js';

interface NamedPolicy {
  readonly label: string;
  readonly policy: ScalingPolicy;
}

function checkedSpec(label: string, spec: Record<string, unknown>): AutoscalePolicySpec {
  const checked = validateAs('AutoscalePolicy', { apiVersion, kind: 'AutoscalePolicy', metadata: { name: 'simulated' }, spec });
  if (!checked.ok) throw cliErrors.policyInvalid({ app: label, problems: checked.problems.map(formatProblem) });
  return checked.object.spec;
}

/** "target=50,scaleToZeroGracePeriod=5m": Knative's defaults with these changes. */
function inlinePolicy(text: string): NamedPolicy {
  const spec: Record<string, unknown> = { ...policyDefaults };
  for (const assignment of text.split(',')) {
    const at = assignment.indexOf('=');
    const key = assignment.slice(0, at).trim();
    if (!(policyFieldNames as readonly string[]).includes(key)) {
      throw cliErrors.policyUnknownKey({ key, guess: closest(key, policyFieldNames), known: policyFieldNames });
    }
    spec[key] = typedValue(key, assignment.slice(at + 1).trim());
  }
  return { label: text, policy: scalingPolicy(checkedSpec(text, spec)) };
}

async function appPolicy(store: ResourceStore, app: App, label: string): Promise<NamedPolicy> {
  const effective = resolveAppPolicy(app, await namespacePolicies(store, app));
  if (effective.problems.length > 0) throw cliErrors.policyInvalid({ app: label, problems: effective.problems.map(formatProblem) });
  return { label, policy: scalingPolicy(effective.spec) };
}

/** An AutoscalePolicy or App manifest (YAML or JSON). */
async function filePolicy(context: CommandContext, path: string): Promise<NamedPolicy> {
  const label = basename(path).replace(/\.(ya?ml|json)$/, '');
  // Read as apply reads manifests: bounded in size and in YAML alias expansion.
  const manifests = await readManifests(context.io, path, manifestLimits({}, context.io.env, policySimulate.usage));
  if (manifests.length !== 1) throw cliErrors.badInput({ source: path, reason: `holds ${manifests.length} documents; give one AutoscalePolicy or App` });
  const manifest: unknown = manifests[0]?.object;
  const kind = (manifest as { kind?: unknown } | null)?.kind;
  if (kind === 'App') {
    const app = validateAs('App', manifest);
    if (!app.ok) throw cliErrors.policyInvalid({ app: path, problems: app.problems.map(formatProblem) });
    return appPolicy(await context.store(), app.object, label);
  }
  if (kind !== 'AutoscalePolicy') throw cliErrors.badInput({ source: path, reason: `expected kind AutoscalePolicy or App, got ${JSON.stringify(kind ?? null)}` });
  const policy = validateAs('AutoscalePolicy', manifest);
  if (!policy.ok) throw cliErrors.policyInvalid({ app: path, problems: policy.problems.map(formatProblem) });
  return { label, policy: scalingPolicy(policy.object.spec) };
}

/** --policy: "defaults", key=value,..., a manifest file, or the name of an AutoscalePolicy or App. */
async function resolvePolicy(context: CommandContext, given: string): Promise<NamedPolicy> {
  if (given === 'defaults') return { label: 'defaults', policy: scalingPolicy({ ...policyDefaults }) };
  if (given.includes('=')) return inlinePolicy(given);
  const path = resolve(context.io.cwd, given);
  if (/[/\\.]/.test(given) || (await stat(path).catch(() => undefined))) return filePolicy(context, given);
  const store = await context.store();
  const stored = await store.find('AutoscalePolicy', given);
  if (stored) return { label: given, policy: scalingPolicy(checkedSpec(given, stored.spec)) };
  const app = await store.find('App', given);
  if (app) return appPolicy(store, app, `app ${given}`);
  const known = [...(await store.list('AutoscalePolicy')).map((p) => p.metadata.name), ...(await store.list('App')).map((a) => a.metadata.name)];
  throw cliErrors.policyNotFound({ given, guess: closest(given, known) });
}

function durationFlag(context: CommandContext, flag: string, fallbackMs: number): number {
  const text = flagString(context.flags, flag);
  if (text === undefined) return fallbackMs;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) throw cliErrors.usage({ problem: `--${flag} must be a duration such as 2s or 500ms, got "${text}"`, usage: policySimulate.usage });
  return ms;
}

const fixed = (n: number) => (Math.round(n * 10) / 10).toString();

export const policySimulate: Command = {
  name: 'policy simulate',
  usage:
    'dormant policy simulate --trace FILE [--policy defaults|NAME|FILE|key=value,...]... [--chart FILE.svg] [--tick 2s] [--cold-start 1s] [--output json]',
  summary: 'Replay a traffic trace through policies: cold starts, replica-seconds, peak replicas, held time',
  args: 0,
  options: {
    trace: { type: 'string' },
    policy: { type: 'string', multiple: true },
    chart: { type: 'string' },
    tick: { type: 'string' },
    'cold-start': { type: 'string' },
  },
  async run(context) {
    const { io, flags, output } = context;
    const traceFile = flagString(flags, 'trace');
    if (traceFile === undefined) throw cliErrors.usage({ problem: 'policy simulate needs --trace FILE (CSV "seconds,concurrency", or a log from dormant trace APP)', usage: policySimulate.usage });
    const trace = parseTrace(await readSource(io, traceFile), traceFile);
    const givens = flagStrings(flags, 'policy');
    const policies: NamedPolicy[] = [];
    for (const given of givens.length === 0 ? ['defaults'] : givens) policies.push(await resolvePolicy(context, given));
    const options = { tickMs: durationFlag(context, 'tick', 2000), coldStartMs: durationFlag(context, 'cold-start', 1000) };
    const results: { label: string; result: SimulationResult }[] = policies.map(({ label, policy }) => ({ label, result: simulate(policy, trace, options) }));

    const chartFile = flagString(flags, 'chart') ?? `${basename(traceFile).replace(/\.[^.]*$/, '')}.simulation.svg`;
    const chart = renderChart(
      results.map((r) => ({ title: r.label, result: r.result })),
      `${traceFile}, a decision every ${fixed(options.tickMs / 1000)} s, ${fixed(options.coldStartMs / 1000)} s cold start`,
    );
    await writeFile(resolve(io.cwd, chartFile), chart);

    const summary = results.map(({ label, result }) => ({
      policy: label,
      coldStarts: result.coldStarts,
      replicaSeconds: result.replicaSeconds,
      peakReplicas: result.peakReplicas,
      heldSeconds: result.heldSeconds,
      heldRequests: result.heldRequests ?? null,
      longestHoldSeconds: result.longestHoldS,
    }));
    print(io, output, { trace: traceFile, durationSeconds: results[0]?.result.durationS ?? 0, ...options, chart: chartFile, policies: summary }, () =>
      [
        `${traceFile}: ${results[0]?.result.durationS ?? 0} s of ${trace.kind === 'load' ? 'load samples' : `requests (${trace.requests.length})`}; a decision every ${fixed(options.tickMs / 1000)} s, replicas ready ${fixed(options.coldStartMs / 1000)} s after a scale-up`,
        trace.kind === 'load'
          ? formatTable(
              ['POLICY', 'COLD STARTS', 'REPLICA-SECONDS', 'PEAK', 'HELD (CONCURRENCY x s)', 'LONGEST HOLD (s)'],
              summary.map((s) => [s.policy, String(s.coldStarts), fixed(s.replicaSeconds), String(s.peakReplicas), fixed(s.heldSeconds), fixed(s.longestHoldSeconds)]),
            )
          : formatTable(
              ['POLICY', 'COLD STARTS', 'REPLICA-SECONDS', 'PEAK', 'HELD REQUESTS', 'HELD (s)', 'LONGEST HOLD (s)'],
              summary.map((s) => [
                s.policy,
                String(s.coldStarts),
                fixed(s.replicaSeconds),
                String(s.peakReplicas),
                String(s.heldRequests),
                fixed(s.heldSeconds),
                fixed(s.longestHoldSeconds),
              ]),
            ),
        `chart: ${chartFile}`,
        '',
      ].join('\n'),
    );
    return undefined;
  },
};
