import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli, tempStateDir } from './test-support.js';

const samples = fileURLToPath(new URL('../autoscaler/samples/', import.meta.url));

describe('dormant policy simulate', () => {
  it('compares two policies on the bundled sample trace and writes the chart', async () => {
    const dir = await tempStateDir();
    const result = await runCli(dir, [
      'policy',
      'simulate',
      '--trace',
      join(samples, 'hour-of-api.csv'),
      '--policy',
      join(samples, 'frugal.yaml'),
      '--policy',
      join(samples, 'warm.yaml'),
      '--chart',
      'out.svg',
    ]);
    assert.equal(result.stderr, '');
    assert.equal(result.code, 0);
    const [, header, frugal, warm] = result.stdout.split('\n');
    assert.match(header ?? '', /^POLICY\s+COLD STARTS\s+REPLICA-SECONDS\s+PEAK\s+HELD/);
    const numbers = (row: string | undefined) => (row ?? '').split(/\s{3,}/).slice(1).map(Number);
    const [frugalColdStarts = 0, frugalCost = 0] = numbers(frugal);
    const [warmColdStarts = 0, warmCost = 0] = numbers(warm);
    assert.match(frugal ?? '', /^frugal /);
    assert.match(warm ?? '', /^warm /);
    // The trade-off the tool exists to show: a long grace period buys fewer cold starts with replica-seconds.
    assert.ok(warmColdStarts < frugalColdStarts, `${warmColdStarts} < ${frugalColdStarts}`);
    assert.ok(warmCost > frugalCost, `${warmCost} > ${frugalCost}`);
    assert.match(result.stdout, /chart: out\.svg/);
    const svg = await readFile(join(dir, 'out.svg'), 'utf8');
    assert.match(svg, /<text[^>]*>frugal<\/text>/);
    assert.match(svg, /<text[^>]*>warm<\/text>/);
  });

  it('prints hand-computable numbers for a small trace, with inline and stored policies', async () => {
    const dir = await tempStateDir();
    await writeFile(join(dir, 'two-bursts.csv'), 'seconds,concurrency\n0,1\n4,0\n12,3\n13,0\n19,0\n');
    const common = 'target=1,targetUtilization=1,stableWindow=6s,panicThresholdPercentage=1000';
    await writeFile(
      join(dir, 'patient.yaml'),
      `apiVersion: dormant.dev/v1alpha1\nkind: AutoscalePolicy\nmetadata: {name: patient}\nspec: {target: 1, targetUtilization: 1, stableWindow: 6s, panicThresholdPercentage: 1000, scaleToZeroGracePeriod: 30s}\n`,
    );
    assert.equal((await runCli(dir, ['apply', '-f', 'patient.yaml'])).code, 0);
    const result = await runCli(dir, ['policy', 'simulate', '--trace', 'two-bursts.csv', '--policy', `${common},scaleToZeroGracePeriod=6s`, '--policy', 'patient', '-o', 'json']);
    assert.equal(result.stderr, '');
    const report = JSON.parse(result.stdout) as { durationSeconds: number; policies: Record<string, unknown>[] };
    assert.equal(report.durationSeconds, 20);
    // Worked through in autoscaler/simulate.test.ts: two wake-ups, 10 s + 8 s of a replica, 1 + 3 held.
    assert.deepEqual(report.policies[0], {
      policy: `${common},scaleToZeroGracePeriod=6s`,
      coldStarts: 2,
      replicaSeconds: 18,
      peakReplicas: 1,
      heldSeconds: 4,
      heldRequests: null,
      longestHoldSeconds: 1,
    });
    assert.deepEqual(report.policies[1], { policy: 'patient', coldStarts: 1, replicaSeconds: 20, peakReplicas: 1, heldSeconds: 1, heldRequests: null, longestHoldSeconds: 1 });
  });

  it('rejects a bad trace, an unknown policy and an invalid one with what to do', async () => {
    const dir = await tempStateDir();
    await writeFile(join(dir, 'bad.csv'), '0,1\n1,lots\n');
    await writeFile(join(dir, 'ok.csv'), '0,1\n');
    const bad = await runCli(dir, ['policy', 'simulate', '--trace', 'bad.csv']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /error \[TRACE_INVALID\]: bad\.csv line 2: concurrency must be a number >= 0, got "lots"/);
    const missing = await runCli(dir, ['policy', 'simulate']);
    assert.match(missing.stderr, /error \[CLI_USAGE\]: policy simulate needs --trace FILE/);
    const unknown = await runCli(dir, ['policy', 'simulate', '--trace', 'ok.csv', '--policy', 'fruga']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /error \[CLI_POLICY_NOT_FOUND\]: no AutoscalePolicy or App is called "fruga"/);
    const invalid = await runCli(dir, ['policy', 'simulate', '--trace', 'ok.csv', '--policy', 'target=0']);
    assert.match(invalid.stderr, /error \[CLI_POLICY_INVALID\].*spec\.target/s);
    const typo = await runCli(dir, ['policy', 'simulate', '--trace', 'ok.csv', '--policy', 'targt=5']);
    assert.match(typo.stderr, /error \[CLI_POLICY_UNKNOWN_KEY\].*did you mean target/s);
    const tick = await runCli(dir, ['policy', 'simulate', '--trace', 'ok.csv', '--tick', 'soon']);
    assert.match(tick.stderr, /--tick must be a duration such as 2s/);
  });
});
