// Where an app's reports begin when rounds leave idle apps out, with the rounds' times passed in.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReportRounds } from './report-rounds.js';

describe('ReportRounds.firstAfter', () => {
  // Each step: a round at atMs, or the loop begins to follow an app (its rounds are counted from there).
  type Step = { readonly roundAtMs: number } | { readonly followed: true };
  const rows: { name: string; steps: readonly Step[]; oldestSecond: number; first: number | undefined }[] = [
    { name: 'no round yet', steps: [{ followed: true }], oldestSecond: 0, first: undefined },
    { name: 'rounds at 1.2 s, 2.2 s, 3.2 s after following: the first', steps: [{ followed: true }, { roundAtMs: 1200 }, { roundAtMs: 2200 }, { roundAtMs: 3200 }], oldestSecond: 0, first: 1 },
    { name: 'the same rounds, the window from second 2: its oldest', steps: [{ followed: true }, { roundAtMs: 1200 }, { roundAtMs: 2200 }, { roundAtMs: 3200 }], oldestSecond: 2, first: 2 },
    { name: 'rounds at 1.2 s and 2.2 s before following, 3.2 s after: only the one after', steps: [{ roundAtMs: 1200 }, { roundAtMs: 2200 }, { followed: true }, { roundAtMs: 3200 }], oldestSecond: 0, first: 3 },
    { name: 'one round before following and one after in the same second 2: second 2', steps: [{ roundAtMs: 2100 }, { followed: true }, { roundAtMs: 2900 }], oldestSecond: 0, first: 2 },
    { name: 'a round in second 2 before following only: none', steps: [{ roundAtMs: 2100 }, { followed: true }], oldestSecond: 0, first: undefined },
    { name: 'no round for seconds 3 to 9 (the activator was away): the oldest is the one before the gap', steps: [{ followed: true }, { roundAtMs: 2000 }, { roundAtMs: 10_000 }], oldestSecond: 0, first: 2 },
    { name: 'the clock stepped back from 9.5 s to 4.5 s: the seconds stay in order', steps: [{ followed: true }, { roundAtMs: 9500 }, { roundAtMs: 4500 }], oldestSecond: 0, first: 4 },
    { name: 'two activators in the same second, followed between them: that second', steps: [{ roundAtMs: 5100 }, { followed: true }, { roundAtMs: 5300 }], oldestSecond: 5, first: 5 },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const rounds = new ReportRounds();
      let followedAfter = 0;
      for (const step of row.steps) {
        if ('roundAtMs' in step) rounds.record(step.roundAtMs);
        else followedAfter = rounds.count;
      }
      assert.equal(rounds.firstAfter(followedAfter, row.oldestSecond), row.first);
    });
  }
});

describe('ReportRounds.forgetBefore', () => {
  it('forgets the seconds before the one given and keeps the rest', () => {
    const rounds = new ReportRounds();
    for (const atMs of [1000, 2000, 3000, 4000]) rounds.record(atMs);
    rounds.forgetBefore(3);
    assert.equal(rounds.firstAfter(0, 0), 3);
    assert.equal(rounds.count, 4, 'the rounds keep their numbers');
  });
});
