import type { App } from './app.js';
import { type AutoscalePolicy, type AutoscalePolicySpec, policyDefaults, policyFieldNames } from './autoscale-policy.js';
import { apiVersion } from './meta.js';
import { type Problem, validateAs } from './validate.js';

export type PolicyFieldName = keyof AutoscalePolicySpec;

/** The AutoscalePolicy an app without a policyRef runs with, when its namespace has one. */
export const namespaceDefaultPolicy = 'default';

/** How `policy get` names a value that comes from the namespace's default policy. */
export const namespaceDefaultSource = `policy ${namespaceDefaultPolicy} (namespace default)`;

export interface EffectivePolicy {
  readonly spec: AutoscalePolicySpec;
  /**
   * Where each value comes from: "default" (Knative's), "policy NAME" (the app's policyRef),
   * "policy default (namespace default)" (the namespace's `default` policy, for an app
   * without a policyRef) or "app" (the app's own override).
   */
  readonly sources: Readonly<Record<PolicyFieldName, string>>;
  /** The AutoscalePolicy that was layered in, if any. */
  readonly policy: string | undefined;
  /** The app's policyRef when no such policy exists (the app then runs without one). */
  readonly missingRef: string | undefined;
  /** Cross-field problems of the merged policy (each part may be valid on its own). */
  readonly problems: readonly Problem[];
}

/**
 * The one rule for the policy an app runs with, used by the activator, the autoscaler and
 * the CLI: Knative's defaults, overlaid by one AutoscalePolicy (the app's policyRef, or
 * else the namespace's `default` policy when it exists), overlaid by the app's inline
 * overrides. A policyRef to a policy that does not exist layers nothing (the namespace
 * default does not stand in for it): the app named a policy, and `missingRef` says it is
 * gone. Pure; `policies` holds the AutoscalePolicies of the app's namespace by name.
 */
export function resolvePolicy(app: App, policies: ReadonlyMap<string, AutoscalePolicy>): EffectivePolicy {
  const ref = app.spec.autoscale.policyRef;
  const referenced = policies.get(ref ?? namespaceDefaultPolicy);
  const label = ref === undefined ? namespaceDefaultSource : `policy ${ref}`;
  const spec: Record<string, unknown> = { ...policyDefaults };
  const sources: Record<string, string> = Object.fromEntries(policyFieldNames.map((k) => [k, 'default']));
  const overrides = app.spec.autoscale as Record<string, unknown>;
  const fromPolicy = (referenced?.spec ?? {}) as Record<string, unknown>;
  for (const key of policyFieldNames) {
    const policyValue = fromPolicy[key];
    // A stored policy carries every default: a value equal to Knative's is shown as Knative's.
    if (policyValue !== undefined && policyValue !== (policyDefaults as Record<string, unknown>)[key]) {
      spec[key] = policyValue;
      sources[key] = label;
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
    policy: referenced?.metadata.name,
    missingRef: ref !== undefined && referenced === undefined ? ref : undefined,
    problems: merged.ok ? [] : merged.problems,
  };
}

