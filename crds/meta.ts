import { type Static, Type } from '@sinclair/typebox';
import { dnsLabelPattern, type CrossFieldRule, stringMap } from './schema-kit.js';

export const group = 'dormant.dev';
export const version = 'v1alpha1';
export const apiVersion = `${group}/${version}`;
export const defaultNamespace = 'default';

const timestamp = () => Type.String({ format: 'date-time', 'x-dormant-hint': 'an RFC 3339 time such as 2026-01-02T15:04:05Z' });

export const ObjectMetaSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 253 }),
    namespace: Type.Optional(Type.String({ pattern: dnsLabelPattern, maxLength: 63 })),
    uid: Type.Optional(Type.String()),
    resourceVersion: Type.Optional(Type.String()),
    generation: Type.Optional(Type.Integer({ minimum: 0 })),
    creationTimestamp: Type.Optional(timestamp()),
    labels: Type.Optional(stringMap()),
    annotations: Type.Optional(stringMap()),
    ownerReferences: Type.Optional(
      Type.Array(
        Type.Object(
          {
            apiVersion: Type.String(),
            kind: Type.String(),
            name: Type.String(),
            uid: Type.String(),
            controller: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  // Kubernetes adds fields of its own here (managedFields, finalizers, ...): keep them.
  { additionalProperties: true },
);
export type ObjectMeta = Static<typeof ObjectMetaSchema>;

export const ConditionSchema = Type.Object(
  {
    type: Type.String({ minLength: 1 }),
    status: Type.Unsafe<'True' | 'False' | 'Unknown'>({ type: 'string', enum: ['True', 'False', 'Unknown'] }),
    reason: Type.Optional(Type.String()),
    message: Type.Optional(Type.String()),
    lastTransitionTime: Type.Optional(timestamp()),
  },
  { additionalProperties: false },
);
export type Condition = Static<typeof ConditionSchema>;

export { timestamp };

/** The name rule of a kind, checked at the root (where CEL may read metadata.name). */
export function nameRule(kind: string, maxLength: number): CrossFieldRule {
  const re = new RegExp(dnsLabelPattern);
  const aKind = `${/^[AEIOU]/.test(kind) ? 'an' : 'a'} ${kind}`;
  return {
    cel: `self.metadata.name.size() <= ${maxLength} && self.metadata.name.matches('${dnsLabelPattern}')`,
    celMessage: `metadata.name must be a DNS-1123 label of at most ${maxLength} characters`,
    field: 'metadata.name',
    check: (self) => {
      const meta = self.metadata as { name?: unknown } | undefined;
      const name = meta?.name;
      if (typeof name !== 'string' || name.length === 0) return undefined; // reported by the schema
      if (name.length > maxLength) {
        return {
          message: `"${name}" is ${name.length} characters, longer than the ${maxLength} allowed for ${aKind} name`,
          fix: `use a name of at most ${maxLength} characters`,
        };
      }
      if (!re.test(name)) {
        return {
          message: `"${name}" is not a valid ${kind} name`,
          fix: `use lower-case letters, digits and '-', starting and ending with a letter or digit (like "hello-world")`,
        };
      }
      return undefined;
    },
  };
}
