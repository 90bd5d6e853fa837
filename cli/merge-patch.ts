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
