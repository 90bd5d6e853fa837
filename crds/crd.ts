/**
 * apiextensions.k8s.io/v1 CustomResourceDefinitions from our schemas: structural (every
 * node typed, no $ref/anyOf/const), cross-field rules as x-kubernetes-validations.
 */
import { stringify } from 'yaml';
import { kinds, type KindInfo, kindNames } from './kinds.js';
import { group, version } from './meta.js';
import type { CrossFieldRule } from './schema-kit.js';

type Json = Record<string, unknown>;

const copiedKeys = [
  'description',
  'type',
  'format',
  'enum',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'maxProperties',
  'default',
] as const;

/** Keywords toOpenApi translates besides copiedKeys; anything else would be dropped silently. */
const translatedKeys = new Set(['properties', 'required', 'additionalProperties', 'items', 'const', 'exclusiveMinimum', 'x-dormant-rules', 'x-dormant-immutable', 'x-dormant-hint']);

function toOpenApi(node: Json): Json {
  for (const key of Object.keys(node)) {
    if (!(copiedKeys as readonly string[]).includes(key) && !translatedKeys.has(key)) {
      throw new Error(`schema keyword ${key} has no CRD translation; add it to crds/crd.ts or use another keyword`);
    }
  }
  const out: Json = {};
  for (const key of copiedKeys) if (node[key] !== undefined) out[key] = node[key];
  if (node.const !== undefined) out.enum = [node.const];
  if (typeof node.exclusiveMinimum === 'number') {
    out.minimum = node.exclusiveMinimum;
    out.exclusiveMinimum = true;
  }
  const properties = node.properties as Record<string, Json> | undefined;
  if (properties) {
    out.properties = Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, toOpenApi(v)]));
    const required = ((node.required as string[] | undefined) ?? []).filter((k) => properties[k]?.default === undefined);
    if (required.length > 0) out.required = required;
  }
  if (node.additionalProperties === true) out['x-kubernetes-preserve-unknown-fields'] = true;
  else if (typeof node.additionalProperties === 'object' && node.additionalProperties !== null) {
    out.additionalProperties = toOpenApi(node.additionalProperties as Json);
  }
  if (node.items) out.items = toOpenApi(node.items as Json);
  const rules = node['x-dormant-rules'] as readonly CrossFieldRule[] | undefined;
  // fieldPath puts the apiserver's error on the same field the local validator names
  // (not for metadata, which a CRD's schema does not describe).
  const validations: { rule: string; message: string; fieldPath?: string }[] = (rules ?? []).map((r) => ({
    rule: r.cel,
    message: r.celMessage,
    ...(r.field && !r.field.startsWith('metadata.') ? { fieldPath: `.${r.field}` } : {}),
  }));
  if (node['x-dormant-immutable'] === true) {
    validations.push({ rule: 'self == oldSelf', message: 'is immutable; create a new object instead' });
  }
  if (validations.length > 0) out['x-kubernetes-validations'] = validations;
  return out;
}

export function customResourceDefinition(info: KindInfo): Json {
  const root = toOpenApi(info.schema as unknown as Json);
  const properties = root.properties as Json;
  // The apiserver owns these three; it rejects a CRD that constrains metadata beyond name.
  properties.apiVersion = { type: 'string' };
  properties.kind = { type: 'string' };
  properties.metadata = { type: 'object' };
  const hasStatus = 'status' in properties;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${info.plural}.${group}`, labels: { 'app.kubernetes.io/part-of': 'dormant' } },
    spec: {
      group,
      names: {
        kind: info.kind,
        listKind: `${info.kind}List`,
        plural: info.plural,
        singular: info.singular,
        shortNames: [...info.shortNames],
        categories: ['dormant'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          ...(hasStatus ? { subresources: { status: {} } } : {}),
          additionalPrinterColumns: info.printerColumns.map((c) => ({ ...c })),
          schema: { openAPIV3Schema: root },
        },
      ],
    },
  };
}

/** File name -> YAML text, exactly as checked in under manifests/crds/. */
export function renderCrds(): Map<string, string> {
  const header = '# Generated from crds/ by `npm run gen`. Do not edit: change the schema and regenerate.\n';
  const files = new Map<string, string>();
  for (const name of kindNames) {
    const info = kinds[name];
    files.set(`${info.plural}.${group}.yaml`, header + stringify(customResourceDefinition(info), { lineWidth: 0 }));
  }
  files.set(
    'kustomization.yaml',
    header + stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: [...files.keys()] }),
  );
  return files;
}
