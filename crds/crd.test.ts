import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type CelInput, run } from '@bufbuild/cel';
import { parse } from 'yaml';
import { customResourceDefinition } from './crd.js';
import { renderCrds } from './index.js';
import { kinds } from './kinds.js';
import type { CrossFieldRule } from './schema-kit.js';

const crdFolder = fileURLToPath(new URL('../manifests/crds/', import.meta.url));
type Json = Record<string, unknown>;

describe('generated CRDs', () => {
  it('manifests/crds/ is exactly what `npm run gen` writes (run it after changing a schema)', () => {
    const expected = renderCrds();
    assert.deepEqual(readdirSync(crdFolder).sort(), [...expected.keys()].sort());
    for (const [file, text] of expected) {
      assert.ok(readFileSync(join(crdFolder, file), 'utf8') === text, `manifests/crds/${file} is stale: run npm run gen`);
    }
  });

  for (const info of Object.values(kinds)) {
    it(`${info.kind}: structural schema, every node typed, nothing Kubernetes rejects`, () => {
      const crd = customResourceDefinition(info) as { spec: { versions: [{ schema: { openAPIV3Schema: Json } }] } };
      const forbidden = ['$ref', 'anyOf', 'oneOf', 'allOf', 'not', 'const', 'patternProperties', '$schema', '$id'];
      const visit = (node: Json, path: string) => {
        for (const key of Object.keys(node)) {
          assert.ok(!forbidden.includes(key), `${path} has ${key}`);
          assert.ok(!key.startsWith('x-dormant'), `${path} leaks ${key}`);
        }
        assert.ok(typeof node.type === 'string' || node['x-kubernetes-preserve-unknown-fields'] === true, `${path} has no type`);
        for (const [key, child] of Object.entries((node.properties as Record<string, Json>) ?? {})) visit(child, `${path}.${key}`);
        if (node.items) visit(node.items as Json, `${path}[]`);
        if (typeof node.additionalProperties === 'object') visit(node.additionalProperties as Json, `${path}{}`);
        if (node.type === 'object' && node.properties === undefined && node.additionalProperties === undefined && path !== '.metadata') {
          assert.fail(`${path} is an object without properties`);
        }
      };
      visit(crd.spec.versions[0].schema.openAPIV3Schema, '');
    });
  }

  it('App and Revision have the status subresource and the printer columns kubectl shows', () => {
    const columns = (file: string) => {
      const crd = parse(readFileSync(join(crdFolder, file), 'utf8'));
      assert.deepEqual(crd.spec.versions[0].subresources, { status: {} });
      return crd.spec.versions[0].additionalPrinterColumns.map((c: { name: string }) => c.name.toUpperCase());
    };
    assert.deepEqual(columns('apps.dormant.dev.yaml'), ['URL', 'READY', 'REPLICAS', 'REVISION', 'AGE']);
    assert.deepEqual(columns('revisions.dormant.dev.yaml'), ['PHASE', 'COMMIT', 'AGE']);
  });

  it('defaults are not listed as required (the apiserver fills them first)', () => {
    const crd = parse(readFileSync(join(crdFolder, 'revisions.dormant.dev.yaml'), 'utf8'));
    const spec = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec;
    assert.deepEqual(spec.required, ['app', 'commit']);
    assert.deepEqual(spec.properties.run.default, {});
    assert.equal(spec.properties.strategy.default, 'auto');
  });
});

/** Every cross-field rule with the path of the node it sits on. */
function rulesOf(node: Json, path: string, out: { path: string; rule: CrossFieldRule }[] = []) {
  for (const rule of (node['x-dormant-rules'] as CrossFieldRule[] | undefined) ?? []) out.push({ path, rule });
  for (const [key, child] of Object.entries((node.properties as Record<string, Json>) ?? {})) rulesOf(child, `${path}.${key}`, out);
  if (node.items) rulesOf(node.items as Json, `${path}[]`, out);
  return out;
}

/** JSON as Kubernetes hands it to CEL: objects are maps, integers are ints. */
function toCel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toCel);
  if (typeof value === 'object' && value !== null) return new Map(Object.entries(value).map(([k, v]) => [k, toCel(v)]));
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  return value;
}

/** Inputs for each rule, by CEL message: the CEL rule and our check must agree on all. */
const agreementCases: Record<string, readonly Json[]> = {
  'minScale must not exceed maxScale': [{}, { minScale: 1 }, { maxScale: 1 }, { minScale: 2, maxScale: 2 }, { minScale: 3, maxScale: 2 }, { minScale: 0, maxScale: 1 }],
  'activationScale must not exceed maxScale': [{}, { activationScale: 5 }, { activationScale: 2, maxScale: 2 }, { activationScale: 3, maxScale: 2 }],
  'stableWindow must be between 6s and 1h': [{}, { stableWindow: '6s' }, { stableWindow: '5s' }, { stableWindow: '1h' }, { stableWindow: '61m' }, { stableWindow: '1m30s' }, { stableWindow: '5999ms' }],
  'scaleDownDelay must be between 0s and 1h': [{}, { scaleDownDelay: '0s' }, { scaleDownDelay: '30m' }, { scaleDownDelay: '3601s' }],
  'requestTimeout must be between 1s and 1h': [{}, { requestTimeout: '1s' }, { requestTimeout: '999ms' }, { requestTimeout: '2h' }],
  'environment variable names must match [A-Za-z_][A-Za-z0-9_]*': [{}, { PORT: '1' }, { _X: '1' }, { '9X': '1' }, { 'A-B': '1' }, { 'A.B': '1', OK: '2' }],
  'metadata.name must be a DNS-1123 label of at most 40 characters': [
    { metadata: { name: 'hello' } },
    { metadata: { name: 'a'.repeat(40) } },
    { metadata: { name: 'a'.repeat(41) } },
    { metadata: { name: 'Hello' } },
    { metadata: { name: '-x' } },
    { metadata: { name: 'x-1' } },
  ],
  'metadata.name must be a DNS-1123 label of at most 63 characters': [{ metadata: { name: 'r'.repeat(63) } }, { metadata: { name: 'r'.repeat(64) } }, { metadata: { name: 'a_b' } }],
  'spec.releaseDir must be the folder releases/<spec.app>/<metadata.name> of the state folder': [
    { metadata: { name: 'web-00001' }, spec: { app: 'web' } },
    { metadata: { name: 'web-00001' }, spec: { app: 'web', releaseDir: '/srv/.dormant/releases/web/web-00001' } },
    { metadata: { name: 'web-00001' }, spec: { app: 'web', releaseDir: '/etc' } },
    { metadata: { name: 'web-00001' }, spec: { app: 'web', releaseDir: '/srv/.dormant/releases/other/web-00001' } },
    { metadata: { name: 'web-00002' }, spec: { app: 'web', releaseDir: '/srv/.dormant/releases/web/web-00001' } },
  ],
  'spec.image must be localhost/dormant/<spec.app>:<metadata.name>, the image git push built': [
    { metadata: { name: 'web-00001' }, spec: { app: 'web' } },
    { metadata: { name: 'web-00001' }, spec: { app: 'web', image: 'localhost/dormant/web:web-00001' } },
    { metadata: { name: 'web-00001' }, spec: { app: 'web', image: 'docker.io/library/alpine' } },
    { metadata: { name: 'web-00001' }, spec: { app: 'web', image: 'localhost/dormant/other:web-00001' } },
  ],
};

describe('CEL rules in the CRDs agree with the TypeScript validator', () => {
  const all = Object.values(kinds).flatMap((info) => rulesOf(info.schema as unknown as Json, info.kind));
  for (const { path, rule } of all) {
    it(`${path}: ${rule.celMessage}`, () => {
      const cases = agreementCases[rule.celMessage];
      assert.ok(cases, `add agreement cases for "${rule.celMessage}"`);
      for (const self of cases) {
        const celSays = run(rule.cel, { self: toCel(self) as CelInput });
        const oursSays = rule.check(self) === undefined;
        assert.equal(celSays, oursSays, `${JSON.stringify(self)}: CEL says ${celSays}, our check says ${oursSays}`);
      }
      assert.ok(cases.some((self) => rule.check(self) !== undefined), 'at least one case must break the rule');
    });
  }
});
