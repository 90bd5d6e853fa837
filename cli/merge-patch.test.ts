import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyMergePatch, mergePatch } from './merge-patch.js';

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
