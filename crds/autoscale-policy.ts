import { type Static, Type } from '@sinclair/typebox';
import { parseDuration } from './duration.js';
import { apiVersion, nameRule, ObjectMetaSchema } from './meta.js';
import { type CrossFieldRule, duration, stringEnum } from './schema-kit.js';

/**
 * The policy's fields and their defaults (Knative's, where Knative has one). The same
 * fields, without defaults, are the inline overrides in an App's spec.autoscale.
 */
export const policyDefaults = {
  metric: 'concurrency',
  target: 100,
  targetUtilization: 0.7,
  containerConcurrency: 0,
  minScale: 0,
  initialScale: 1,
  activationScale: 1,
  scaleToZeroGracePeriod: '30s',
  scaleDownDelay: '0s',
  stableWindow: '60s',
  panicWindowPercentage: 10,
  panicThresholdPercentage: 200,
  maxScaleUpRate: 1000,
  maxScaleDownRate: 2,
  requestTimeout: '60s',
  queueDepth: 1000,
} as const;

function policyFields(withDefaults: boolean) {
  const d = <K extends keyof typeof policyDefaults>(key: K) =>
    withDefaults ? { default: policyDefaults[key] as (typeof policyDefaults)[K] } : {};
  return {
    metric: stringEnum(['concurrency', 'rps'] as const, {
      description: 'What the target counts: in-flight requests per replica, or requests per second per replica.',
      ...d('metric'),
    }),
    target: Type.Number({ minimum: 0.01, description: 'Target value of the metric per replica.', ...d('target') }),
    targetUtilization: Type.Number({
      minimum: 0.01,
      maximum: 1,
      description: 'Fraction of target to aim for, leaving headroom for bursts.',
      ...d('targetUtilization'),
    }),
    containerConcurrency: Type.Integer({
      minimum: 0,
      maximum: 1000,
      description: 'Hard limit of requests in flight per replica; 0 means no limit.',
      ...d('containerConcurrency'),
    }),
    minScale: Type.Integer({ minimum: 0, maximum: 1000, ...d('minScale') }),
    maxScale: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1000,
        description: 'Upper bound of replicas; omit it for no upper bound.',
        'x-dormant-hint': 'omit maxScale for no upper bound',
      }),
    ),
    initialScale: Type.Integer({ minimum: 0, maximum: 1000, ...d('initialScale') }),
    activationScale: Type.Integer({
      minimum: 1,
      maximum: 1000,
      description: 'Replicas started when the app wakes from zero.',
      ...d('activationScale'),
    }),
    scaleToZeroGracePeriod: duration({ ...d('scaleToZeroGracePeriod') }),
    scaleDownDelay: duration({ ...d('scaleDownDelay') }),
    stableWindow: duration({ ...d('stableWindow') }),
    panicWindowPercentage: Type.Number({ minimum: 1, maximum: 100, ...d('panicWindowPercentage') }),
    panicThresholdPercentage: Type.Number({ minimum: 110, maximum: 1000, ...d('panicThresholdPercentage') }),
    maxScaleUpRate: Type.Number({ exclusiveMinimum: 1, ...d('maxScaleUpRate') }),
    maxScaleDownRate: Type.Number({ exclusiveMinimum: 1, ...d('maxScaleDownRate') }),
    requestTimeout: duration({
      description: 'How long a request may wait for a replica while the app wakes up.',
      ...d('requestTimeout'),
    }),
    queueDepth: Type.Integer({
      minimum: 1,
      maximum: 100_000,
      description: 'Requests held per app while no replica can take them; more get 503.',
      ...d('queueDepth'),
    }),
  };
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function durationBoundsRule(field: string, minimum: string, maximum: string): CrossFieldRule {
  const minMs = parseDuration(minimum) ?? 0;
  const maxMs = parseDuration(maximum) ?? 0;
  return {
    cel: `!has(self.${field}) || (duration(self.${field}) >= duration('${minimum}') && duration(self.${field}) <= duration('${maximum}'))`,
    celMessage: `${field} must be between ${minimum} and ${maximum}`,
    field,
    check: (self) => {
      const text = str(self[field]);
      const ms = text === undefined ? undefined : parseDuration(text);
      if (text === undefined || ms === undefined || (ms >= minMs && ms <= maxMs)) return undefined;
      return { message: `${text} is outside ${minimum} to ${maximum}`, fix: `use a duration from ${minimum} to ${maximum}` };
    },
  };
}

/** Rules between policy fields; they hold for a policy and for an App's overrides. */
export const policyRules: readonly CrossFieldRule[] = [
  {
    cel: '!has(self.minScale) || !has(self.maxScale) || self.minScale <= self.maxScale',
    celMessage: 'minScale must not exceed maxScale',
    field: 'maxScale',
    check: (self) => {
      const min = num(self.minScale);
      const max = num(self.maxScale);
      if (min === undefined || max === undefined || min <= max) return undefined;
      return { message: `${max} is less than minScale ${min}`, fix: 'raise maxScale or lower minScale' };
    },
  },
  {
    cel: '!has(self.activationScale) || !has(self.maxScale) || self.activationScale <= self.maxScale',
    celMessage: 'activationScale must not exceed maxScale',
    field: 'activationScale',
    check: (self) => {
      const activation = num(self.activationScale);
      const max = num(self.maxScale);
      if (activation === undefined || max === undefined || activation <= max) return undefined;
      return { message: `${activation} is more than maxScale ${max}`, fix: 'lower activationScale or raise maxScale' };
    },
  },
  durationBoundsRule('stableWindow', '6s', '1h'),
  durationBoundsRule('scaleDownDelay', '0s', '1h'),
  durationBoundsRule('requestTimeout', '1s', '1h'),
];

export const AutoscalePolicySpecSchema = Type.Object(policyFields(true), {
  additionalProperties: false,
  default: {},
  'x-dormant-rules': policyRules,
});
export type AutoscalePolicySpec = Static<typeof AutoscalePolicySpecSchema>;

export const AutoscaleOverridesFields = Type.Partial(Type.Object(policyFields(false)));
export type AutoscaleOverrides = Static<typeof AutoscaleOverridesFields>;
export const policyFieldNames = Object.keys(policyFields(false)) as (keyof AutoscalePolicySpec)[];

export const AutoscalePolicySchema = Type.Object(
  {
    apiVersion: Type.Literal(apiVersion),
    kind: Type.Literal('AutoscalePolicy'),
    metadata: ObjectMetaSchema,
    spec: AutoscalePolicySpecSchema,
  },
  { additionalProperties: false, 'x-dormant-rules': [nameRule('AutoscalePolicy', 40)] },
);
export type AutoscalePolicy = Static<typeof AutoscalePolicySchema>;
