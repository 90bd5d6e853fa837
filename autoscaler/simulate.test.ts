import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDormantError } from '../errors/index.js';
import { renderChart } from './chart.js';
import { scalingPolicy } from './decide.js';
import { policyDefaults } from '../crds/index.js';
import { perSecondLoad, simulate } from './simulate.js';
import { parseTrace } from './trace.js';

// Small enough to follow by hand: one replica takes 1 concurrent request, no panic (10x
// threshold), 6 s windows, 1 s cold start, a decision every 2 s.
const eager = scalingPolicy({ ...policyDefaults, target: 1, targetUtilization: 1, stableWindow: '6s', scaleToZeroGracePeriod: '6s', panicThresholdPercentage: 1000 });
const patient = { ...eager, scaleToZeroGraceMs: 30_000 };
const options = { tickMs: 2000, coldStartMs: 1000 };

// Load 1 during seconds 0-3, nothing, load 3 during second 12, nothing until second 20.
const twoBursts = parseTrace('seconds,concurrency\n0,1\n4,0\n12,3\n13,0\n19,0\n', 'two-bursts.csv');

describe('policy simulation', () => {
  it('replays a hand-computable trace: cold starts, replica-seconds, peak and held time', () => {
    // t=0: a request finds zero replicas: poke -> 1 replica, ready at 1 s; 1 concurrent held 1 s.
    // t=10 s: the last load was reported at 4 s, so 6 s idle = stableWindow = grace: to zero.
    // t=12 s: load 3 finds zero: poke -> 1, ready at 13 s; 3 concurrent held 1 s.
    // t=20 s: the last load was reported at 13 s: 7 s idle: to zero. Replicas ran 10 s + 8 s.
    const result = simulate(eager, twoBursts, options);
    assert.equal(result.durationS, 20);
    assert.equal(result.coldStarts, 2);
    assert.equal(result.replicaSeconds, 18);
    assert.equal(result.peakReplicas, 1);
    assert.equal(result.heldSeconds, 4);
    assert.equal(result.longestHoldS, 1);
    assert.equal(result.heldRequests, undefined);
    assert.deepEqual(
      result.timeline.map((p) => p.scale),
      [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1],
    );
    assert.deepEqual(result.timeline.slice(0, 2).map((p) => p.ready), [1, 1]);
  });

  it('decides on its own schedule when the tick is not a whole number of seconds', () => {
    const oneBurst = parseTrace('0,1\n4,0\n11,0\n', 'one-burst.csv');
    // Idle from 4 s (the last load report) for 6 s: the first decision at or after 10 s is at 10.5 s.
    assert.equal(simulate(eager, oneBurst, { ...options, tickMs: 1500 }).replicaSeconds, 10.5);
    assert.equal(simulate(eager, oneBurst, { ...options, tickMs: 2500 }).replicaSeconds, 10);
    assert.equal(simulate(eager, oneBurst, options).replicaSeconds, 10);
  });

  it('a longer grace period keeps the replica: one cold start, more replica-seconds', () => {
    const result = simulate(patient, twoBursts, options);
    assert.equal(result.coldStarts, 1);
    assert.equal(result.replicaSeconds, 20);
    assert.equal(result.heldSeconds, 1);
  });

  it('load above what one replica takes scales out, limited by the target', () => {
    // 3 concurrent from 0 s: woken to 1 at 0 s; at 2 s the 2 s observed average 3 -> 3 replicas.
    const result = simulate(eager, parseTrace('0,3\n9,3\n', 'flat.csv'), options);
    assert.equal(result.peakReplicas, 3);
    assert.deepEqual(result.timeline.map((p) => p.scale).slice(0, 4), [1, 1, 3, 3]);
    // 1 s at 1 replica... 0-2 s at 1 replica, 2-10 s at 3: 2 + 24.
    assert.equal(result.replicaSeconds, 26);
  });

  it('minScale starts the app at that scale, ready, and never holds a request', () => {
    const result = simulate({ ...eager, minScale: 1 }, twoBursts, options);
    assert.equal(result.coldStarts, 0);
    assert.equal(result.heldSeconds, 0);
    assert.equal(result.replicaSeconds, 20);
  });

  it('a request log holds each request until the first replica is ready', () => {
    const log = parseTrace('seconds,duration_seconds,status\n0.5,0.2,200\n0.9,0.1,200\n3,0.5,200\n', 'requests.csv');
    // 0.5 s pokes: ready at 1.5 s. The 0.5 s request waits 1 s, the 0.9 s one 0.6 s; at 3 s one is ready.
    const result = simulate(eager, log, options);
    assert.equal(result.coldStarts, 1);
    assert.equal(result.heldRequests, 2);
    assert.equal(result.heldSeconds, 1.6);
    assert.equal(result.longestHoldS, 1);
  });

  it('turns a request log into per-second concurrency and arrivals', () => {
    const load = perSecondLoad(parseTrace('seconds,duration_seconds\n0.5,1\n1.5,0.25\n', 'r.csv'));
    assert.deepEqual([...load.concurrency], [0.5, 0.75]);
    assert.deepEqual([...load.requests], [1, 1]);
    assert.deepEqual(load.arrivalsMs, [500, 1500]);
  });

  it('draws one panel per policy with its numbers', () => {
    const svg = renderChart(
      [
        { title: 'eager', result: simulate(eager, twoBursts, options) },
        { title: 'patient', result: simulate(patient, twoBursts, options) },
      ],
      'two-bursts.csv',
    );
    assert.match(svg, /^<svg /);
    assert.match(svg, /2 cold starts, 18 replica-seconds, peak 1, held 4 s/);
    assert.match(svg, /1 cold starts, 20 replica-seconds/);
    assert.equal(svg.match(/stroke="#1f5fbf"/g)?.length, 2);
  });
});

describe('trace parsing', () => {
  const problem = (text: string) => {
    try {
      parseTrace(text, 't.csv');
    } catch (error) {
      if (isDormantError(error)) return `${error.code}: ${error.message}`;
      throw error;
    }
    return 'parsed';
  };

  it('reads load samples without a header and request logs by their header', () => {
    assert.deepEqual(parseTrace('# a comment\n0,1\n\n2,0.5\n', 't.csv'), { kind: 'load', samples: [{ atS: 0, concurrency: 1 }, { atS: 2, concurrency: 0.5 }] });
    assert.equal(parseTrace('seconds,duration_seconds\n1,0.1\n', 't.csv').kind, 'requests');
  });

  it('names the line and the problem of a bad trace', () => {
    assert.match(problem(''), /^TRACE_EMPTY: t.csv holds no trace rows/);
    assert.match(problem('0,1\n1,x\n'), /^TRACE_INVALID: t.csv line 2: concurrency must be a number >= 0, got "x"/);
    assert.match(problem('0,1\n5\n'), /line 2: expected two numbers/);
    assert.match(problem('0,1\n-1,2\n'), /seconds must be a number >= 0/);
    assert.match(problem('3,1\n2,1\n'), /line 2: seconds must increase/);
    assert.match(problem('time,users\n0,1\n'), /header "time,users" is neither/);
  });
});
