import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { policyDefaults } from '../crds/index.js';
import { type DeciderState, decide, initialDeciderState, type Observation, scalingPolicy } from './decide.js';

const base = scalingPolicy({ ...policyDefaults });
const now = 120_000;

/** Per-second observations from fromS (inclusive) to toS (exclusive). */
function load(fromS: number, toS: number, concurrency: number, requests = concurrency): Observation[] {
  return Array.from({ length: toS - fromS }, (_, i) => ({ atMs: (fromS + i + 1) * 1000, concurrency, requests }));
}

/** A decider that has watched for two minutes. */
const warm = (extra: Partial<DeciderState> = {}): DeciderState => ({ ...initialDeciderState, observingSinceMs: 0, lastRequestMs: now, ...extra });

interface Row {
  readonly name: string;
  readonly policy?: Partial<typeof base>;
  readonly observations: Observation[];
  readonly state?: DeciderState;
  readonly ready: number;
  readonly current: number;
  readonly poked?: boolean;
  readonly firstReportMs?: number;
  readonly desired: number;
  readonly panicking?: boolean;
  readonly reason?: RegExp;
}

const rows: readonly Row[] = [
  { name: '140 concurrent over the stable window at target 100 x 0.7 -> 2', observations: load(60, 120, 140), ready: 2, current: 2, desired: 2, reason: /^stable: 140 concurrent over 60 s -> 2$/ },
  { name: '141 concurrent -> 3 (ceil)', observations: load(60, 120, 141), ready: 3, current: 3, desired: 3 },
  { name: 'rps counts requests per second against the target', policy: { metric: 'rps', target: 10, targetUtilization: 1 }, observations: load(60, 120, 1, 35), ready: 4, current: 4, desired: 4, reason: /35 requests\/s/ },
  { name: 'load older than the stable window is ignored', observations: [...load(0, 60, 1000), ...load(60, 120, 70)], ready: 1, current: 1, desired: 1 },
  {
    name: 'a burst of 2x what the ready replicas take starts panic and scales to the panic window',
    observations: [...load(60, 114, 70), ...load(114, 120, 700)],
    ready: 1,
    current: 1,
    desired: 10,
    panicking: true,
    reason: /^panic: 700 concurrent over 6 s, 1 ready -> 10$/,
  },
  { name: 'a burst under the panic threshold does not panic', observations: [...load(60, 114, 70), ...load(114, 120, 130)], ready: 2, current: 2, desired: 2, panicking: false },
  {
    name: 'while panicking the scale never goes down',
    observations: load(60, 120, 10),
    state: warm({ panicSinceMs: now - 10_000, panicScale: 10 }),
    ready: 10,
    current: 10,
    desired: 10,
    panicking: true,
  },
  {
    name: 'panic ends after a whole stable window under the threshold',
    observations: load(60, 120, 70),
    state: warm({ panicSinceMs: now - 60_000, panicScale: 10 }),
    ready: 2,
    current: 2,
    desired: 1,
    panicking: false,
  },
  { name: 'the scale-up limit rounds up: at least one more replica when one is needed', policy: { maxScaleUpRate: 1.5 }, observations: load(60, 120, 350), ready: 1, current: 1, desired: 2, reason: /scale-up limited to 2/ },
  { name: 'the scale-down limit rounds down', observations: load(60, 120, 10), ready: 10, current: 10, desired: 5, reason: /scale-down limited to 5/ },
  { name: 'minScale holds an idle app up', policy: { minScale: 2 }, observations: [], state: warm({ lastRequestMs: 0 }), ready: 2, current: 2, desired: 2, reason: /minScale 2/ },
  { name: 'maxScale caps a busy app', policy: { maxScale: 3 }, observations: load(60, 120, 700), state: warm({ panicSinceMs: undefined }), ready: 3, current: 3, desired: 3, reason: /maxScale 3/ },
  {
    name: 'scaleDownDelay keeps the highest scale decided within the delay',
    policy: { scaleDownDelayMs: 10_000 },
    observations: load(60, 120, 70),
    state: warm({ recent: [{ atMs: now - 5000, scale: 4 }, { atMs: now - 15_000, scale: 9 }] }),
    ready: 4,
    current: 4,
    desired: 4,
    reason: /held at 4 by scaleDownDelay 10 s/,
  },
  { name: 'no request for the stable window and the grace period: to zero', observations: load(0, 59, 10), state: warm({ lastRequestMs: 59_000 }), ready: 1, current: 1, desired: 0, reason: /^idle 61 s: scale to zero$/ },
  { name: 'a request within the stable window keeps one replica', observations: [], state: warm({ lastRequestMs: 75_000 }), ready: 1, current: 1, desired: 1, reason: /^idle 45 s: keeping 1/ },
  {
    name: 'a grace period longer than the stable window keeps one replica',
    policy: { scaleToZeroGraceMs: 90_000 },
    observations: load(0, 59, 10),
    state: warm({ lastRequestMs: 59_000 }),
    ready: 1,
    current: 1,
    desired: 1,
  },
  { name: 'a poke at zero wakes to activationScale at once', policy: { activationScale: 3 }, observations: [], state: warm({ lastRequestMs: 0 }), ready: 0, current: 0, poked: true, desired: 3, reason: /^wake from zero \(request waiting\) -> 3$/ },
  { name: 'a poke at zero wakes to at least one', observations: [], state: warm({ lastRequestMs: 0 }), ready: 0, current: 0, poked: true, desired: 1 },
  { name: 'at zero without requests it stays at zero', observations: [], state: warm({ lastRequestMs: 0 }), ready: 0, current: 0, desired: 0 },
  {
    name: 'a restarted autoscaler with several replicas ready panics instead of reading no load',
    observations: [],
    state: initialDeciderState,
    ready: 3,
    current: 3,
    desired: 3,
    panicking: true,
    reason: /^panic: no history yet, holding 3 ready$/,
  },
  {
    name: 'no scale-down before a whole stable window has been observed',
    observations: load(90, 120, 0),
    state: warm({ observingSinceMs: now - 30_000, lastRequestMs: now - 30_000 }),
    ready: 2,
    current: 2,
    desired: 2,
    reason: /^warming up: 30 s of 60 s observed, holding 2$/,
  },
  {
    name: 'a first decision, no observation, reports since 60 s (rounds that left the app out, idle): idle 61 s, to zero',
    observations: [],
    state: initialDeciderState,
    firstReportMs: 60_000,
    ready: 1,
    current: 1,
    desired: 0,
    reason: /^idle 61 s: scale to zero$/,
  },
  {
    name: 'a first decision, no observation, no report: no history, warming up, holding 1',
    observations: [],
    state: initialDeciderState,
    ready: 1,
    current: 1,
    desired: 1,
    reason: /^warming up: 0 s of 60 s observed, holding 1$/,
  },
  {
    name: 'a later decision, reports since 0 s: the state keeps where its history began (30 s ago), warming up',
    observations: load(90, 120, 0),
    state: warm({ observingSinceMs: now - 30_000, lastRequestMs: now - 30_000 }),
    firstReportMs: 1000,
    ready: 2,
    current: 2,
    desired: 2,
    reason: /^warming up: 30 s of 60 s observed, holding 2$/,
  },
];

describe('decide (KPA rules)', () => {
  for (const row of rows) {
    it(row.name, () => {
      const decision = decide({
        policy: { ...base, ...row.policy },
        observations: row.observations,
        state: row.state ?? warm(),
        readyReplicas: row.ready,
        currentScale: row.current,
        poked: row.poked ?? false,
        nowMs: now,
        ...(row.firstReportMs === undefined ? {} : { firstReportMs: row.firstReportMs }),
      });
      assert.equal(decision.desiredScale, row.desired, decision.reason);
      if (row.panicking !== undefined) assert.equal(decision.panicking, row.panicking, decision.reason);
      if (row.reason) assert.match(decision.reason, row.reason);
    });
  }

  it('has no duplicate row names', () => assert.equal(new Set(rows.map((r) => r.name)).size, rows.length));

  it('state flows from one decision to the next: a burst, its panic, and its end', () => {
    const policy = base;
    let state = warm();
    const history: Observation[] = [...load(0, 114, 70), ...load(114, 120, 700)];
    let scale = 1;
    const first = decide({ policy, observations: history, state, readyReplicas: 1, currentScale: scale, poked: false, nowMs: now });
    assert.equal(first.panicking, true);
    state = first.state;
    scale = first.desiredScale;
    // Load falls back; panic keeps the scale for a stable window, then lets go.
    const quiet = (untilS: number) => [...history, ...load(120, untilS, 70)];
    const during = decide({ policy, observations: quiet(150), state, readyReplicas: scale, currentScale: scale, poked: false, nowMs: 150_000 });
    assert.equal(during.desiredScale, scale);
    const afterwards = decide({ policy, observations: quiet(181), state: during.state, readyReplicas: scale, currentScale: scale, poked: false, nowMs: 181_000 });
    assert.equal(afterwards.panicking, false);
    assert.ok(afterwards.desiredScale < scale, afterwards.reason);
  });
});
