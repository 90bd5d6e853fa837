/**
 * Validation and defaulting, driven by the same schemas that give the TypeScript types and
 * the CRDs. Reports every problem at once, each with its path and what to do about it.
 */
import { apiVersion } from './meta.js';
import { type DormantObject, isKindName, kindNames, kinds, type KindName, type ObjectOfKind } from './kinds.js';
import type { CrossFieldRule } from './schema-kit.js';

export interface Problem {
  /** Dot path into the object, e.g. spec.autoscale.maxScale or spec.routes.hosts[1]. */
  readonly path: string;
  readonly message: string;
  readonly fix: string;
}

export function formatProblem(problem: Problem): string {
  return `${problem.path || '(object)'}: ${problem.message}; ${problem.fix}`;
}

export type ValidationResult<T> =
  | { readonly ok: true; readonly object: T; readonly problems: readonly [] }
  | { readonly ok: false; readonly problems: readonly Problem[] };

/** A JSON schema node as our builders produce them (see schema-kit.ts). */
interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  default?: unknown;
  'x-dormant-hint'?: string;
  'x-dormant-rules'?: readonly CrossFieldRule[];
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const join = (path: string, key: string): string => {
  const safe = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? key : JSON.stringify(key);
  if (path === '') return safe;
  return safe === key ? `${path}.${key}` : `${path}[${safe}]`;
};

const show = (v: unknown): string => {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return JSON.stringify(v);
};

function describe(node: SchemaNode): string {
  const hint = node['x-dormant-hint'];
  if (node.enum) return `one of ${node.enum.map(String).join(', ')}`;
  if (node.const !== undefined) return JSON.stringify(node.const);
  switch (node.type) {
    case 'integer':
    case 'number': {
      const noun = node.type === 'integer' ? 'an integer' : 'a number';
      const low = node.minimum ?? node.exclusiveMinimum;
      const lowWord = node.exclusiveMinimum !== undefined ? 'above' : 'from';
      if (low !== undefined && node.maximum !== undefined) return `${noun} ${lowWord} ${low} to ${node.maximum}`;
      if (low !== undefined) return node.exclusiveMinimum !== undefined ? `${noun} above ${low}` : `${noun} of at least ${low}`;
      if (node.maximum !== undefined) return `${noun} of at most ${node.maximum}`;
      return noun;
    }
    case 'string':
      return hint ?? 'a string';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list';
    default:
      return 'an object';
  }
}

/** Levenshtein distance, for "did you mean" on unknown fields. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] ?? 0;
      row[j] = Math.min((row[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, previous + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length] ?? 0;
}

export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  const lower = word.toLowerCase();
  for (const candidate of candidates) {
    // A prefix ("docker" for "dockerfile") is as good a guess as one typo.
    const edits = lower.length >= 2 && candidate.toLowerCase().startsWith(lower) ? 1 : distance(word, candidate);
    // On a tie, a candidate with the same first letter is the likelier typo.
    const d = edits + (candidate[0]?.toLowerCase() === lower[0] ? 0 : 0.5);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

const dateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Walks value against node, filling defaults into value in place; pushes problems. */
function walk(node: SchemaNode, value: unknown, path: string, problems: Problem[]): unknown {
  const expected = describe(node);
  const wrongType = (): unknown => {
    problems.push({ path, message: `expected ${expected}, got ${show(value)}`, fix: `use ${expected}` });
    return value;
  };
  switch (node.type) {
    case 'object': {
      if (!isPlainObject(value)) return wrongType();
      const properties = node.properties ?? {};
      const required = new Set(node.required ?? []);
      for (const [key, child] of Object.entries(properties)) {
        const childPath = join(path, key);
        // The apiserver prunes a null it was not told to keep, then defaults: do the same.
        if (value[key] === null) delete value[key];
        if (value[key] === undefined && child.default !== undefined) value[key] = structuredClone(child.default);
        if (value[key] === undefined) {
          if (required.has(key)) problems.push({ path: childPath, message: 'is required', fix: `set it to ${describe(child)}` });
          continue;
        }
        value[key] = walk(child, value[key], childPath, problems);
      }
      const known = Object.keys(properties);
      for (const key of Object.keys(value)) {
        if (Object.hasOwn(properties, key)) continue;
        const extra = node.additionalProperties;
        if (extra === false || extra === undefined) {
          const guess = closest(key, known);
          problems.push({
            path: join(path, key),
            message: 'is not a known field',
            fix: guess ? `did you mean ${guess}? Known fields here: ${known.join(', ')}` : `remove it; known fields here: ${known.join(', ')}`,
          });
        } else if (extra !== true) {
          value[key] = walk(extra, value[key], join(path, key), problems);
        }
      }
      if (node.maxProperties !== undefined && Object.keys(value).length > node.maxProperties) {
        problems.push({ path, message: `has ${Object.keys(value).length} entries, more than ${node.maxProperties}`, fix: 'remove some' });
      }
      for (const rule of node['x-dormant-rules'] ?? []) {
        const broken = rule.check(value);
        // The CEL message leads, so dormant and the apiserver give the same reason for the same
        // path; names are the exception, as the apiserver checks them on its own terms.
        const message = broken && !rule.field.startsWith('metadata.') ? `${rule.celMessage} (${broken.message})` : broken?.message;
        if (broken && message !== undefined) problems.push({ path: rule.field.split('.').filter(Boolean).reduce(join, path), message, fix: broken.fix });
      }
      return value;
    }
    case 'array': {
      if (!Array.isArray(value)) return wrongType();
      if (node.maxItems !== undefined && value.length > node.maxItems) {
        problems.push({ path, message: `has ${value.length} items, more than ${node.maxItems}`, fix: `keep at most ${node.maxItems}` });
      }
      if (node.minItems !== undefined && value.length < node.minItems) {
        problems.push({ path, message: `has ${value.length} items, fewer than ${node.minItems}`, fix: `give at least ${node.minItems}, or omit it` });
      }
      const items = node.items;
      if (items) for (let i = 0; i < value.length; i++) value[i] = walk(items, value[i], `${path}[${i}]`, problems);
      return value;
    }
    case 'string': {
      if (typeof value !== 'string') return wrongType();
      if (node.const !== undefined && value !== node.const) {
        problems.push({ path, message: `is ${show(value)}`, fix: `use ${JSON.stringify(node.const)}` });
      } else if (node.enum && !node.enum.includes(value)) {
        const guess = closest(value, node.enum.map(String));
        problems.push({ path, message: `${show(value)} is not allowed`, fix: `use one of ${node.enum.join(', ')}${guess ? ` (did you mean ${guess}?)` : ''}` });
      } else if (node.minLength !== undefined && value.length < node.minLength) {
        problems.push({ path, message: 'is empty', fix: `use ${expected}` });
      } else if (node.maxLength !== undefined && value.length > node.maxLength) {
        problems.push({ path, message: `is ${value.length} characters, longer than ${node.maxLength}`, fix: `shorten it to ${node.maxLength} characters` });
      } else if (node.pattern !== undefined && !new RegExp(node.pattern).test(value)) {
        problems.push({ path, message: `${show(value)} is not valid`, fix: `use ${expected}` });
      } else if (node.format === 'date-time' && !(dateTime.test(value) && !Number.isNaN(Date.parse(value)))) {
        problems.push({ path, message: `${show(value)} is not a time`, fix: `use ${expected}` });
      }
      return value;
    }
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value) || (node.type === 'integer' && !Number.isInteger(value))) {
        return wrongType();
      }
      if (node.minimum !== undefined && value < node.minimum) {
        problems.push({ path, message: `${value} is below the minimum ${node.minimum}`, fix: fixRange(node, expected) });
      } else if (node.exclusiveMinimum !== undefined && value <= node.exclusiveMinimum) {
        problems.push({ path, message: `${value} is not above ${node.exclusiveMinimum}`, fix: fixRange(node, expected) });
      } else if (node.maximum !== undefined && value > node.maximum) {
        problems.push({ path, message: `${value} is above the maximum ${node.maximum}`, fix: fixRange(node, expected) });
      }
      return value;
    }
    case 'boolean':
      if (typeof value !== 'boolean') wrongType();
      return value;
    default:
      return value;
  }
}

function fixRange(node: SchemaNode, expected: string): string {
  const hint = node['x-dormant-hint'];
  return hint ? `use ${expected}, or ${hint}` : `use ${expected}`;
}

/** Validates and defaults an object of a known kind; never mutates its input. */
export function validateAs<K extends KindName>(kind: K, input: unknown): ValidationResult<ObjectOfKind[K]> {
  const copy: unknown = structuredClone(input);
  const problems: Problem[] = [];
  const object = walk(kinds[kind].schema as SchemaNode, copy, '', problems);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, object: object as ObjectOfKind[K], problems: [] };
}

/** Validates and defaults any Dormant object, choosing the schema by its kind. */
export function validate(input: unknown): ValidationResult<DormantObject> {
  if (!isPlainObject(input)) {
    return { ok: false, problems: [{ path: '', message: `expected an object, got ${show(input)}`, fix: 'send a JSON or YAML object with apiVersion, kind, metadata and spec' }] };
  }
  const problems: Problem[] = [];
  if (!isKindName(input.kind)) {
    const guess = typeof input.kind === 'string' ? closest(input.kind, kindNames) : undefined;
    problems.push({
      path: 'kind',
      message: input.kind === undefined ? 'is required' : `${show(input.kind)} is not a Dormant kind`,
      fix: `use one of ${kindNames.join(', ')}${guess ? ` (did you mean ${guess}?)` : ''}`,
    });
  }
  if (input.apiVersion !== apiVersion) {
    problems.push({ path: 'apiVersion', message: input.apiVersion === undefined ? 'is required' : `${show(input.apiVersion)} is not served`, fix: `use ${apiVersion}` });
  }
  if (problems.length > 0 || !isKindName(input.kind)) return { ok: false, problems };
  return validateAs(input.kind, input);
}
