/**
 * Small builders on top of TypeBox that keep every schema structural (each node typed,
 * no $ref, no anyOf), so the same schema serves TypeScript types, our validator and the
 * CRD's openAPIV3Schema. `x-dormant-*` keys are ours: the validator reads them and the
 * CRD generator drops them (rules become x-kubernetes-validations).
 */
import { type SchemaOptions, type TSchema, Type, type TUnsafe } from '@sinclair/typebox';
import { durationPattern } from './duration.js';

/** A cross-field rule: a CEL expression for the apiserver and the same check in TypeScript. */
export interface CrossFieldRule {
  /** CEL, evaluated by kube-apiserver with `self` bound to the node carrying the rule. */
  readonly cel: string;
  /** The problem in words, for the apiserver and for the path reported by our validator. */
  readonly celMessage: string;
  /** Path (relative to the node, dot-separated) the problem is reported at. */
  readonly field: string;
  /** Our check: returns undefined when fine, else the problem and its fix. */
  readonly check: (self: Record<string, unknown>) => { message: string; fix: string } | undefined;
}

export interface DormantSchemaOptions extends SchemaOptions {
  /** What a valid value looks like, used in messages: "a duration such as 30s or 1m30s". */
  'x-dormant-hint'?: string;
  'x-dormant-rules'?: readonly CrossFieldRule[];
  /** The node may not change after creation (CEL `self == oldSelf`). */
  'x-dormant-immutable'?: boolean;
}

export function stringEnum<const T extends readonly string[]>(
  values: T,
  options: DormantSchemaOptions = {},
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

export function stringMap(options: DormantSchemaOptions = {}): TUnsafe<Record<string, string>> {
  return Type.Unsafe<Record<string, string>>({
    type: 'object',
    additionalProperties: { type: 'string' },
    ...options,
  });
}

export function duration(options: DormantSchemaOptions = {}): TUnsafe<string> {
  return Type.Unsafe<string>({
    type: 'string',
    pattern: durationPattern,
    maxLength: 32,
    'x-dormant-hint': 'a duration such as 500ms, 30s, 1m30s or 2h',
    ...options,
  });
}

export const dnsLabelPattern = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const dnsSubdomainPattern = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

/** A name of another object: a DNS-1123 label. */
export function objectName(maxLength: number, options: DormantSchemaOptions = {}): TUnsafe<string> {
  return Type.Unsafe<string>({
    type: 'string',
    pattern: dnsLabelPattern,
    minLength: 1,
    maxLength,
    'x-dormant-hint': `lower-case letters, digits and '-', starting and ending with a letter or digit, at most ${maxLength} characters`,
    ...options,
  });
}

export type { TSchema };
