import type { TSchema } from '@sinclair/typebox';
import { type App, AppSchema } from './app.js';
import { type AutoscalePolicy, AutoscalePolicySchema } from './autoscale-policy.js';
import type { Revision } from './revision.js';
import { RevisionSchema } from './revision.js';

export interface PrinterColumn {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'number' | 'date';
  readonly jsonPath: string;
  readonly description?: string;
}

export interface KindInfo {
  readonly kind: 'App' | 'Revision' | 'AutoscalePolicy';
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly schema: TSchema;
  readonly printerColumns: readonly PrinterColumn[];
}

const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export const kinds = {
  App: {
    kind: 'App',
    plural: 'apps',
    singular: 'app',
    shortNames: ['dapp'],
    schema: AppSchema,
    printerColumns: [
      { name: 'URL', type: 'string', jsonPath: '.status.url' },
      { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
      { name: 'Replicas', type: 'integer', jsonPath: '.status.readyReplicas' },
      { name: 'Revision', type: 'string', jsonPath: '.status.readyRevision' },
      age,
    ],
  },
  Revision: {
    kind: 'Revision',
    plural: 'revisions',
    singular: 'revision',
    shortNames: ['drev'],
    schema: RevisionSchema,
    printerColumns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Commit', type: 'string', jsonPath: '.spec.commit' },
      age,
    ],
  },
  AutoscalePolicy: {
    kind: 'AutoscalePolicy',
    plural: 'autoscalepolicies',
    singular: 'autoscalepolicy',
    shortNames: ['dpolicy'],
    schema: AutoscalePolicySchema,
    printerColumns: [
      { name: 'Metric', type: 'string', jsonPath: '.spec.metric' },
      { name: 'Target', type: 'number', jsonPath: '.spec.target' },
      { name: 'Min', type: 'integer', jsonPath: '.spec.minScale' },
      { name: 'Max', type: 'integer', jsonPath: '.spec.maxScale' },
      age,
    ],
  },
} as const satisfies Record<string, KindInfo>;

export type KindName = keyof typeof kinds;
export const kindNames = Object.keys(kinds) as KindName[];

/** The TypeScript type of each kind, for generic store signatures. */
export interface ObjectOfKind {
  App: App;
  Revision: Revision;
  AutoscalePolicy: AutoscalePolicy;
}
export type DormantObject = ObjectOfKind[KindName];

export function isKindName(name: unknown): name is KindName {
  return typeof name === 'string' && Object.hasOwn(kinds, name);
}

/** Whether a kind's spec is fixed at creation (the CRD says so with `self == oldSelf`). */
export function hasImmutableSpec(kind: KindName): boolean {
  const spec = (kinds[kind].schema as { properties?: { spec?: Record<string, unknown> } }).properties?.spec;
  return spec?.['x-dormant-immutable'] === true;
}
