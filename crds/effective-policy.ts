import type { App } from './app.js';
import { type AutoscalePolicy, type AutoscalePolicySpec, policyDefaults, policyFieldNames } from './autoscale-policy.js';
import { apiVersion } from './meta.js';
import { type Problem, validateAs } from './validate.js';

export type PolicyFieldName = keyof AutoscalePolicySpec;

export interface EffectivePolicy {
  readonly spec: AutoscalePolicySpec;
  /** Where each value comes from: "default", "policy NAME" or "app". */
  readonly sources: Readonly<Record<PolicyFieldName, string>>;
  /** Cross-field problems of the merged policy (each part may be valid on its own). */
  readonly problems: readonly Problem[];
}

/**
 * The policy an app runs with: Knative's defaults, overlaid by the referenced
 * AutoscalePolicy, overlaid by the app's inline overrides. Pure.
 */
export function effectivePolicy(app: App, referenced: AutoscalePolicy | undefined): EffectivePolicy {
  const spec: Record<string, unknown> = { ...policyDefaults };
  const sources: Record<string, string> = Object.fromEntries(policyFieldNames.map((k) => [k, 'default']));
  const overrides = app.spec.autoscale as Record<string, unknown>;
  const fromPolicy = (referenced?.spec ?? {}) as Record<string, unknown>;
  for (const key of policyFieldNames) {
    const policyValue = fromPolicy[key];
    if (policyValue !== undefined && policyValue !== (policyDefaults as Record<string, unknown>)[key]) {
      spec[key] = policyValue;
      sources[key] = `policy ${referenced?.metadata.name}`;
    }
    if (overrides[key] !== undefined) {
      spec[key] = overrides[key];
      sources[key] = 'app';
    }
  }
  const merged = validateAs('AutoscalePolicy', {
    apiVersion,
    kind: 'AutoscalePolicy',
    metadata: { name: app.metadata.name },
    spec,
  });
  return {
    spec: (merged.ok ? merged.object.spec : spec) as AutoscalePolicySpec,
    sources: sources as Record<PolicyFieldName, string>,
    problems: merged.ok ? [] : merged.problems,
  };
}
