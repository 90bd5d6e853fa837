/**
 * What `dormant apply` will do to one object, decided without touching the store: the object
 * to send, the fields the three-way merge removes, and whether anything changes. apply
 * performs it; diff shows it. Pure.
 */
import { isDeepStrictEqual } from 'node:util';
import { defaultNamespace, type DormantObject, group, isKindName, kinds, validateAs } from '../crds/index.js';
import type { ObjectInput } from '../runtime/index.js';
import { cliErrors } from './errors.js';
import type { Manifest } from './manifest-input.js';
import { applyMergePatch, type FieldSchema, mergePatch, type RemovedField, removedFields } from './merge-patch.js';

/** The spec as last applied, kept on the object as kubectl keeps its last-applied-configuration. */
export const lastAppliedAnnotation = `${group}/last-applied`;

export interface ApplyPlan {
  /** "app.dormant.dev/web", as kubectl names objects. */
  readonly label: string;
  readonly action: 'create' | 'configure' | 'unchanged';
  /** What to send: create() it, or update() it (it carries the live resourceVersion). */
  readonly object: ObjectInput;
  /** The object as it will be stored (validated, defaults filled), or undefined when the store will refuse it. */
  readonly predicted: DormantObject | undefined;
  readonly removed: readonly RemovedField[];
}

function parseLastApplied(text: string | undefined): unknown {
  if (text === undefined) return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return {};
  }
}

function valueAt(root: unknown, keys: readonly string[]): unknown {
  let value = root;
  for (const key of keys) value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  return value;
}

/** The name kubectl would print for the object: app.dormant.dev/web. */
export function objectLabel(object: ObjectInput): string {
  const kind: unknown = object?.kind;
  const name: unknown = object?.metadata?.name;
  return isKindName(kind) ? `${kinds[kind].singular}.${group}/${String(name)}` : String(name);
}

/** Revisions come from pushes only: refused before any object of the input is touched. */
export function refuseRevisions(manifests: readonly Manifest[]): void {
  for (const manifest of manifests) {
    if (manifest.object?.kind === 'Revision') {
      throw cliErrors.applyRevision({ source: manifest.source, document: manifest.document, name: String(manifest.object.metadata?.name) });
    }
  }
}

/** Like kubectl apply: what this file no longer sets goes; what others set stays. */
export function planApply(object: ObjectInput, existing: DormantObject | undefined): ApplyPlan {
  const label = objectLabel(object);
  const applied = object.spec ?? {};
  const annotations = { ...object.metadata?.annotations, [lastAppliedAnnotation]: JSON.stringify(applied) };
  const kind: unknown = object?.kind;
  if (!existing) {
    const created = { ...object, metadata: { ...object.metadata, annotations } } as ObjectInput;
    const admitted = isKindName(kind) ? validateAs(kind, { ...created, metadata: { ...created.metadata, namespace: created.metadata.namespace ?? defaultNamespace } }) : undefined;
    return { label, action: 'create', object: created, predicted: admitted?.ok ? admitted.object : undefined, removed: [] };
  }
  const lastApplied = parseLastApplied(existing.metadata.annotations?.[lastAppliedAnnotation]);
  const spec = applyMergePatch(existing.spec, mergePatch(lastApplied, applied));
  const specSchema = (kinds[existing.kind].schema as { properties: { spec: FieldSchema } }).properties.spec;
  const candidates = removedFields({ current: existing.spec, lastApplied, desired: applied, path: 'spec', schema: specSchema });
  const merged = { ...object, spec, metadata: { ...object.metadata, annotations, resourceVersion: existing.metadata.resourceVersion ?? '' } } as ObjectInput;
  const admitted = validateAs(existing.kind, { ...merged, metadata: { ...merged.metadata, namespace: existing.metadata.namespace ?? defaultNamespace } });
  const predicted = admitted.ok ? admitted.object : undefined;
  // A field whose default brings back the same value is not lost: only what changes is reported.
  const removed = candidates.filter((field) => !isDeepStrictEqual(valueAt(existing.spec, field.keys), valueAt(predicted?.spec, field.keys)));
  const same = (key: 'labels' | 'annotations' | 'ownerReferences') => isDeepStrictEqual(predicted?.metadata[key], existing.metadata[key]);
  const unchanged = predicted !== undefined && isDeepStrictEqual(predicted.spec, existing.spec) && same('labels') && same('annotations') && same('ownerReferences');
  return { label, action: unchanged ? 'unchanged' : 'configure', object: merged, predicted, removed };
}

/** The line apply prints for a removed field. */
export function removalLine(label: string, field: RemovedField): string {
  const why =
    field.reason === 'last-applied'
      ? 'set by the last apply, absent from this file'
      : field.reason === 'null'
        ? 'set to null in this file'
        : `set another way, but it goes with ${field.parent}, which the last apply set and this file omits`;
  return `${label}: removing ${field.path}: ${why}`;
}
