/**
 * kubectl apply's three-way merge for custom resources, as JSON merge patches (RFC 7386):
 * fields the last apply set and this one omits are removed; fields set by other means
 * (dormant policy set, a push) and never applied are kept. Pure.
 */

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The patch that turns what was last applied into what is applied now. */
export function mergePatch(lastApplied: unknown, desired: unknown): unknown {
  if (!isObject(desired) || !isObject(lastApplied)) return desired;
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(lastApplied)) if (!(key in desired)) patch[key] = null;
  for (const [key, value] of Object.entries(desired)) patch[key] = isObject(value) && isObject(lastApplied[key]) ? mergePatch(lastApplied[key], value) : value;
  return patch;
}

/** RFC 7386: objects merge key by key, null removes, anything else replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

/** A field the merge removes, and why. */
export interface RemovedField {
  /** Dot path below the given prefix, e.g. spec.run.env; odd keys in brackets: spec.run.env["A.B"]. */
  readonly path: string;
  /** The same path as keys below the object given (["run", "env"]). */
  readonly keys: readonly string[];
  /** last-applied: the last apply set it and this file omits it; null: this file sets it to null; parent: set another way, it goes with a parent the last apply set. */
  readonly reason: 'last-applied' | 'null' | 'parent';
  /** For reason parent: the path of that parent. */
  readonly parent?: string;
}

/** What the merge needs of a schema: which objects are structs of named fields (reported field by field), not maps. */
export interface FieldSchema {
  readonly properties?: Readonly<Record<string, FieldSchema>>;
}

const joinPath = (path: string, key: string): string => (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`);

interface At {
  readonly path: string;
  readonly keys: readonly string[];
}

const child = (at: At, key: string): At => ({ path: joinPath(at.path, key), keys: [...at.keys, key] });

/** The fields of a subtree that goes whole: struct by struct down what the last apply set, so each named field is reported. */
function gone(current: unknown, last: unknown, at: At, schema: FieldSchema | undefined): RemovedField[] {
  if (!schema?.properties || !isObject(current) || !isObject(last) || Object.keys(last).length === 0) return [{ ...at, reason: 'last-applied' }];
  const removed: RemovedField[] = [];
  for (const key of Object.keys(current)) {
    if (Object.hasOwn(last, key)) removed.push(...gone(current[key], last[key], child(at, key), schema.properties[key]));
    else removed.push({ ...child(at, key), reason: 'parent', parent: at.path });
  }
  return removed;
}

/**
 * The fields of current that applyMergePatch(current, mergePatch(lastApplied, desired)) removes,
 * named down to the fields of structs (a map such as env is one field). Pure.
 */
export function removedFields(merge: {
  readonly current: unknown;
  readonly lastApplied: unknown;
  readonly desired: unknown;
  /** The path current sits at, e.g. spec. */
  readonly path: string;
  readonly schema?: FieldSchema;
}): RemovedField[] {
  return removedAt(merge.current, merge.lastApplied, merge.desired, { path: merge.path, keys: [] }, merge.schema);
}

function removedAt(current: unknown, lastApplied: unknown, desired: unknown, at: At, schema: FieldSchema | undefined): RemovedField[] {
  if (!isObject(current) || !isObject(desired)) return [];
  const last = isObject(lastApplied) ? lastApplied : {};
  const removed: RemovedField[] = [];
  for (const key of Object.keys(current)) {
    const below = child(at, key);
    if (!Object.hasOwn(desired, key)) {
      if (Object.hasOwn(last, key)) removed.push(...gone(current[key], last[key], below, schema?.properties?.[key]));
    } else if (desired[key] === null) {
      removed.push({ ...below, reason: 'null' });
    } else {
      removed.push(...removedAt(current[key], last[key], desired[key], below, schema?.properties?.[key]));
    }
  }
  return removed;
}
