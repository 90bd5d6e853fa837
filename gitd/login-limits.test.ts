import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countsAsAuthFailure, dropPercent, type MaxStartups, parseMaxStartups, startupDecision } from './login-limits.js';

const sshd: MaxStartups = { start: 10, ratePercent: 30, full: 100 };

describe('parseMaxStartups', () => {
  const rows: { name: string; text: string; want: MaxStartups | RegExp }[] = [
    { name: 'start:rate:full', text: '10:30:100', want: sshd },
    { name: 'one number refuses beyond it', text: '5', want: { start: 5, ratePercent: 100, full: 5 } },
    { name: 'start equal to full', text: '3:50:3', want: { start: 3, ratePercent: 50, full: 3 } },
    { name: 'two parts', text: '10:30', want: /takes start:rate:full/ },
    { name: 'words', text: 'ten', want: /takes start:rate:full/ },
    { name: 'a negative number', text: '-1:30:100', want: /takes start:rate:full/ },
    { name: 'zero', text: '0', want: /at least 1/ },
    { name: 'a rate over 100', text: '10:101:100', want: /rate from 0 to 100/ },
    { name: 'full below start', text: '10:30:5', want: /full >= start/ },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const parsed = parseMaxStartups(row.text);
      if (row.want instanceof RegExp) assert.match(String(parsed), row.want);
      else assert.deepEqual(parsed, row.want);
    });
  }
});

describe('dropPercent follows sshd', () => {
  const rows = [
    { name: 'below start: never', limits: sshd, waiting: 9, want: 0 },
    { name: 'at start: the rate', limits: sshd, waiting: 10, want: 30 },
    { name: 'half way: half way between rate and 100', limits: sshd, waiting: 55, want: 65 },
    { name: 'at full: always', limits: sshd, waiting: 100, want: 100 },
    { name: 'beyond full: always', limits: sshd, waiting: 150, want: 100 },
    { name: 'one number: always at it', limits: { start: 5, ratePercent: 100, full: 5 }, waiting: 5, want: 100 },
    { name: 'one number: never below it', limits: { start: 5, ratePercent: 100, full: 5 }, waiting: 4, want: 0 },
  ];
  for (const row of rows) it(row.name, () => assert.equal(dropPercent(row.limits, row.waiting), row.want));
});

describe('startupDecision', () => {
  const rows = [
    { name: 'below start, any draw: admit', waiting: 3, random: 0, oldestWaitMs: 10_000, want: 'admit' },
    { name: 'at start, a draw above the rate: admit', waiting: 10, random: 0.3, oldestWaitMs: undefined, want: 'admit' },
    { name: 'at start, a draw below the rate, nobody waited long enough: drop', waiting: 10, random: 0.29, oldestWaitMs: 500, want: 'drop' },
    { name: 'at start, a draw below the rate, one waited long enough: evict it', waiting: 10, random: 0.29, oldestWaitMs: 2_000, want: 'evict-oldest' },
    { name: 'at full, the highest draw, nobody waited long enough: drop', waiting: 100, random: 0.999, oldestWaitMs: 1_999, want: 'drop' },
    { name: 'at full, one has waited long: evict it', waiting: 100, random: 0.999, oldestWaitMs: 30_000, want: 'evict-oldest' },
    { name: 'half way, a draw just under the chance: drop', waiting: 55, random: 0.649, oldestWaitMs: undefined, want: 'drop' },
    { name: 'half way, a draw at the chance: admit', waiting: 55, random: 0.65, oldestWaitMs: undefined, want: 'admit' },
  ] as const;
  for (const row of rows) {
    it(row.name, () => {
      assert.equal(startupDecision({ limits: sshd, unauthenticated: row.waiting, random: row.random, oldestWaitMs: row.oldestWaitMs, evictAfterMs: 2_000 }), row.want);
    });
  }
});

describe('countsAsAuthFailure', () => {
  for (const [method, counts] of [
    ['none', false],
    ['publickey', true],
    ['password', true],
    ['keyboard-interactive', true],
  ] as const) {
    it(`${method}: ${counts ? 'counts' : 'does not count'}`, () => assert.equal(countsAsAuthFailure(method), counts));
  }
});
