import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cachedBaseBytes, chained, WorstBySize } from './index-cost.js';

const MiB = 1024 * 1024;

describe('what indexing one object costs', () => {
  const big = { depth: 2, bytes: 100 * MiB, cost: 300 * MiB };
  const small = { depth: 7, bytes: cachedBaseBytes, cost: 40 * MiB };
  const cases = [
    { name: 'a whole object: what it inflates to', bytes: 5, base: undefined, expect: { depth: 0, bytes: 5, cost: 5 } },
    { name: 'a delta on a base over 8 MiB: its result and its base rebuilt', bytes: 100 * MiB, base: { ofs: big }, expect: { depth: 3, bytes: 100 * MiB, cost: 400 * MiB } },
    { name: 'a small delta on a base over 8 MiB still rebuilds the base', bytes: 10, base: { ofs: big }, expect: { depth: 3, bytes: 10, cost: 300 * MiB + 10 } },
    { name: 'a delta on a base of 8 MiB: its result only (the base is kept built)', bytes: 3 * MiB, base: { ofs: small }, expect: { depth: 8, bytes: 3 * MiB, cost: 3 * MiB } },
    { name: 'a ref-delta with no earlier object of its base size: depth 1, its result and its base read once', bytes: 10, base: { refBytes: 50 * MiB, sameSize: undefined }, expect: { depth: 1, bytes: 10, cost: 50 * MiB + 10 } },
    {
      name: 'a ref-delta on a size over 8 MiB that an earlier object has: taken as that object, its depth and cost',
      bytes: 100 * MiB,
      base: { refBytes: 100 * MiB, sameSize: { depth: 2, cost: 300 * MiB } },
      expect: { depth: 3, bytes: 100 * MiB, cost: 400 * MiB },
    },
    {
      name: 'a ref-delta on a size up to 8 MiB that an earlier object has: its depth, but the base kept built',
      bytes: 10,
      base: { refBytes: cachedBaseBytes, sameSize: { depth: 49, cost: 300 * MiB } },
      expect: { depth: 50, bytes: 10, cost: cachedBaseBytes + 10 },
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(chained(c.bytes, c.base), c.expect));
});

describe('the worst earlier object of each size', () => {
  it('keeps the deepest and the costliest of each size, apart', () => {
    const worst = new WorstBySize();
    worst.add(10, { depth: 3, bytes: 10, cost: 10 });
    worst.add(10, { depth: 1, bytes: 10, cost: 90 });
    worst.add(20, { depth: 0, bytes: 20, cost: 20 });
    assert.deepEqual([worst.get(10), worst.get(20), worst.get(30)], [{ depth: 3, cost: 90 }, { depth: 0, cost: 20 }, undefined]);
  });
});
