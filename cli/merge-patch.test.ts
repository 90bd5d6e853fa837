import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyMergePatch, type FieldSchema, mergePatch, removedFields } from './merge-patch.js';

interface Row {
  readonly name: string;
  readonly current: unknown;
  readonly lastApplied: unknown;
  readonly desired: unknown;
  readonly result: unknown;
}

const rows: readonly Row[] = [
  { name: 'a field set by other means and never applied stays', current: { a: 1, b: 2 }, lastApplied: { a: 1 }, desired: { a: 3 }, result: { a: 3, b: 2 } },
  { name: 'a field the last apply set and this one omits goes', current: { a: 1, b: 2 }, lastApplied: { a: 1, b: 2 }, desired: { a: 1 }, result: { a: 1 } },
  { name: 'nested objects merge key by key', current: { run: { env: { A: '1' }, port: 80 } }, lastApplied: {}, desired: { run: { env: { B: '2' } } }, result: { run: { env: { A: '1', B: '2' }, port: 80 } } },
  { name: 'a nested field dropped from the file goes', current: { run: { env: { A: '1', B: '2' } } }, lastApplied: { run: { env: { A: '1', B: '2' } } }, desired: { run: { env: { A: '1' } } }, result: { run: { env: { A: '1' } } } },
  { name: 'arrays are replaced whole', current: { hosts: ['a', 'b'] }, lastApplied: { hosts: ['a', 'b'] }, desired: { hosts: ['c'] }, result: { hosts: ['c'] } },
  { name: 'nothing applied before: the file is laid over what is there', current: { a: 1, nested: { x: 1 } }, lastApplied: {}, desired: { nested: { y: 2 } }, result: { a: 1, nested: { x: 1, y: 2 } } },
];

describe('three-way merge for apply', () => {
  for (const row of rows) {
    it(row.name, () => assert.deepEqual(applyMergePatch(row.current, mergePatch(row.lastApplied, row.desired)), row.result));
  }
  it('has no duplicate row names', () => assert.equal(new Set(rows.map((r) => r.name)).size, rows.length));
});

/** A struct run with a map env inside, as the App schema has them. */
const schema: FieldSchema = { properties: { run: { properties: { env: {}, port: {} } }, hosts: {} } };

interface RemovalRow {
  readonly name: string;
  readonly current: unknown;
  readonly lastApplied: unknown;
  readonly desired: unknown;
  readonly removed: readonly string[];
}

const removalRows: readonly RemovalRow[] = [
  { name: 'nothing applied before: nothing is removed', current: { run: { port: 80 } }, lastApplied: {}, desired: {}, removed: [] },
  { name: 'a field the last apply set and this file omits', current: { hosts: ['a'], run: { port: 80 } }, lastApplied: { hosts: ['a'] }, desired: { run: { port: 80 } }, removed: ['last-applied spec.hosts'] },
  { name: 'a struct that goes whole is named field by field', current: { run: { env: { A: '1' }, port: 80 } }, lastApplied: { run: { env: { A: '1' } } }, desired: {}, removed: ['last-applied spec.run.env', 'parent spec.run.port (with spec.run)'] },
  { name: 'a map is one field', current: { run: { env: { A: '1', B: '2' } } }, lastApplied: { run: { env: { A: '1', B: '2' } } }, desired: { hosts: [] }, removed: ['last-applied spec.run.env'] },
  { name: 'a key dropped from a map that stays', current: { run: { env: { A: '1', B: '2' } } }, lastApplied: { run: { env: { A: '1', B: '2' } } }, desired: { run: { env: { A: '1' } } }, removed: ['last-applied spec.run.env.B'] },
  { name: 'a null in the file', current: { run: { port: 80 } }, lastApplied: {}, desired: { run: { port: null } }, removed: ['null spec.run.port'] },
  { name: 'a field set by other means and never applied stays', current: { run: { port: 80 }, hosts: ['a'] }, lastApplied: { run: {} }, desired: { run: {} }, removed: [] },
  { name: 'an odd key is quoted', current: { run: { env: { 'A.B': '1' } } }, lastApplied: { run: { env: { 'A.B': '1' } } }, desired: { run: { env: {} } }, removed: ['last-applied spec.run.env["A.B"]'] },
];

describe('the fields apply removes', () => {
  for (const row of removalRows) {
    it(row.name, () => {
      const removed = removedFields({ current: row.current, lastApplied: row.lastApplied, desired: row.desired, path: 'spec', schema });
      assert.deepEqual(
        removed.map((f) => `${f.reason} ${f.path}${f.parent ? ` (with ${f.parent})` : ''}`),
        row.removed,
      );
      // Every named field is really gone (or replaced) after the merge.
      const merged = applyMergePatch(row.current, mergePatch(row.lastApplied, row.desired));
      for (const field of removed) {
        const value = field.keys.reduce<unknown>((v, k) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined), merged);
        assert.equal(value, undefined, `${field.path} is gone`);
      }
    });
  }
  it('has no duplicate row names', () => assert.equal(new Set(removalRows.map((r) => r.name)).size, removalRows.length));
});
