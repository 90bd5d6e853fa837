import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type App, type AutoscalePolicy, resolvePolicy, validateAs } from './index.js';

const app = (autoscale: Record<string, unknown>): App => {
  const result = validateAs('App', { apiVersion: 'dormant.dev/v1alpha1', kind: 'App', metadata: { name: 'hello' }, spec: { autoscale } });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.object;
};
const policy = (name: string, spec: Record<string, unknown>): AutoscalePolicy => {
  const result = validateAs('AutoscalePolicy', { apiVersion: 'dormant.dev/v1alpha1', kind: 'AutoscalePolicy', metadata: { name }, spec });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.object;
};
const policies = (...list: AutoscalePolicy[]) => new Map(list.map((p) => [p.metadata.name, p]));

describe('resolvePolicy', () => {
  const rows: readonly {
    name: string;
    app: App;
    policies: Map<string, AutoscalePolicy>;
    /** field -> [value, source] for the fields the row is about. */
    expect: Record<string, [unknown, string]>;
    policy: string | undefined;
    missingRef?: string;
  }[] = [
    {
      name: 'no policies, no overrides: Knative defaults',
      app: app({}),
      policies: policies(),
      expect: { queueDepth: [1000, 'default'], containerConcurrency: [0, 'default'] },
      policy: undefined,
    },
    {
      name: 'no policyRef, a namespace default: its values, shown as the namespace default',
      app: app({}),
      policies: policies(policy('default', { queueDepth: 2, containerConcurrency: 1 })),
      expect: { queueDepth: [2, 'policy default (namespace default)'], containerConcurrency: [1, 'policy default (namespace default)'], target: [100, 'default'] },
      policy: 'default',
    },
    {
      name: 'no policyRef, a namespace default and an override: the override wins that field',
      app: app({ queueDepth: 7 }),
      policies: policies(policy('default', { queueDepth: 2, containerConcurrency: 1 })),
      expect: { queueDepth: [7, 'app'], containerConcurrency: [1, 'policy default (namespace default)'] },
      policy: 'default',
    },
    {
      name: 'a policyRef and a namespace default: only the referenced policy',
      app: app({ policyRef: 'fast' }),
      policies: policies(policy('default', { queueDepth: 2, containerConcurrency: 1 }), policy('fast', { target: 10 })),
      expect: { target: [10, 'policy fast'], queueDepth: [1000, 'default'], containerConcurrency: [0, 'default'] },
      policy: 'fast',
    },
    {
      name: 'a policyRef to a missing policy and a namespace default: neither, and the ref is reported',
      app: app({ policyRef: 'gone' }),
      policies: policies(policy('default', { queueDepth: 2 })),
      expect: { queueDepth: [1000, 'default'] },
      policy: undefined,
      missingRef: 'gone',
    },
    {
      name: 'policyRef default named outright: shown as that policy',
      app: app({ policyRef: 'default' }),
      policies: policies(policy('default', { queueDepth: 2 })),
      expect: { queueDepth: [2, 'policy default'] },
      policy: 'default',
    },
    {
      name: 'a namespace default value equal to Knative default: shown as the default',
      app: app({}),
      policies: policies(policy('default', { queueDepth: 1000, minScale: 1 })),
      expect: { queueDepth: [1000, 'default'], minScale: [1, 'policy default (namespace default)'] },
      policy: 'default',
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const effective = resolvePolicy(row.app, row.policies);
      for (const [field, [value, source]] of Object.entries(row.expect)) {
        assert.equal((effective.spec as Record<string, unknown>)[field], value, `${field} value`);
        assert.equal((effective.sources as Record<string, string>)[field], source, `${field} source`);
      }
      assert.equal(effective.policy, row.policy);
      assert.equal(effective.missingRef, row.missingRef);
      assert.deepEqual(effective.problems, []);
    });
  }

  it('a namespace default that conflicts with an override is a problem of the merged policy', () => {
    const effective = resolvePolicy(app({ minScale: 5 }), policies(policy('default', { maxScale: 3 })));
    assert.match(effective.problems.map((p) => p.message).join('\n'), /minScale must not exceed maxScale/);
  });
});
