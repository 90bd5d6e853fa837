// The loop that runs a pipeline's steps, with a journal that records what it is told (the
// push pipeline's own behaviour, on real git over ssh, is in test/push*.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PipelineStep, RevisionStatus } from '../crds/index.js';
import { runSteps, type Step, StepChain, StepFailed, type StepJournal, type StepName } from './step-chain.js';

class RecordingJournal implements StepJournal {
  readonly marks: string[] = [];
  timestamp(): string {
    return 'T';
  }
  async mark(step: StepName, change: Partial<PipelineStep>, phase?: RevisionStatus['phase']): Promise<void> {
    this.marks.push(`${step} ${change.state ?? '-'}${change.message === undefined ? '' : ` "${change.message}"`}${phase ? ` ${phase}` : ''}`);
  }
  async fail(step: StepName, message: string): Promise<void> {
    this.marks.push(`${step} failed "${message}"`);
  }
}

type Log = string[];
const checkout: Step<Log, number, number> = { name: 'checkout', run: async (_, n) => n + 1, summary: (n) => `got ${n}` };
const build: Step<Log, number, string> = { name: 'build', phaseAfter: 'Deploying', run: async (_, n) => `built ${n}` };
const image = (registry: boolean): Step<Log, string, string> => ({
  name: 'image',
  skip: (_, built) => (registry ? undefined : { because: 'off', message: 'no registry', output: built }),
  run: async (_, built) => `${built} imaged`,
});
const deploy = (failure?: Error): Step<Log, string, string> => ({
  name: 'deploy',
  run: async (_, value) => {
    if (failure) throw failure;
    return `${value} deployed`;
  },
  after: async (log, value) => {
    log.push(`after deploy: ${value}`);
  },
});
const postDeploy = (hooks: number, keepsRelease = false): Step<Log, string, string> => ({
  name: 'postDeploy',
  ...(keepsRelease ? { keepsRelease: true as const } : {}),
  skip: (_, value) => (hooks === 0 ? { because: 'nothing-to-do', output: value } : undefined),
  run: async () => {
    throw new StepFailed('"hook" exited 1', 'postDeploy hook failed: "hook" exited 1');
  },
});

async function run(chain: StepChain<Log, number, string>) {
  const journal = new RecordingJournal();
  const log: Log = [];
  const outcome = await runSteps(chain, { context: log, input: 1, journal, cleanUp: async () => void log.push('cleaned up'), reject: (reason) => new Error(`rejected: ${reason}`) }).then(
    (done) => ({ output: done.output, timed: done.timings.map((t) => t.step) }),
    (error: Error) => ({ error: error.message }),
  );
  return { outcome, marks: journal.marks, log };
}

describe('runSteps', () => {
  it('passes each step what the one before returned, marks each running then succeeded, and times each', async () => {
    const { outcome, marks, log } = await run(StepChain.first(checkout).next(build).next(image(true)).next(deploy()).next(postDeploy(0)));
    assert.deepEqual(outcome, { output: 'built 2 imaged deployed', timed: ['checkout', 'build', 'image', 'deploy', 'postDeploy'] });
    assert.deepEqual(marks, [
      'checkout running',
      'checkout succeeded "got 2"',
      'build running',
      'build succeeded Deploying',
      'image running',
      'image succeeded',
      'deploy running',
      'deploy succeeded',
      'postDeploy skipped',
    ]);
    assert.deepEqual(log, ['after deploy: built 2 imaged deployed']);
  });

  it('a step that is off is skipped with its reason and left out of the timings; one with nothing to do is timed', async () => {
    const { outcome, marks } = await run(StepChain.first(checkout).next(build).next(image(false)).next(deploy()).next(postDeploy(0)));
    assert.deepEqual(outcome, { output: 'built 2 deployed', timed: ['checkout', 'build', 'deploy', 'postDeploy'] });
    assert.ok(marks.includes('image skipped "no registry"'));
    assert.ok(marks.includes('postDeploy skipped'));
  });

  it('a failed step cleans up, is marked failed, and rejects with its reason; the steps after it do not run', async () => {
    const { outcome, marks, log } = await run(StepChain.first(checkout).next(build).next(image(false)).next(deploy(new StepFailed('no port', 'deploy failed: no port'))).next(postDeploy(1)));
    assert.deepEqual(outcome, { error: 'rejected: deploy failed: no port' });
    assert.deepEqual(marks.slice(-2), ['deploy running', 'deploy failed "no port"']);
    assert.deepEqual(log, ['cleaned up']);
  });

  it('a step that keeps its release is not cleaned up after', async () => {
    const { outcome, marks, log } = await run(StepChain.first(checkout).next(build).next(image(false)).next(deploy()).next(postDeploy(1, true)));
    assert.deepEqual(outcome, { error: 'rejected: postDeploy hook failed: "hook" exited 1' });
    assert.equal(marks.at(-1), 'postDeploy failed ""hook" exited 1"');
    assert.deepEqual(log, ['after deploy: built 2 deployed']);
  });

  it('an error that is not StepFailed is no failure of the step: it leaves as it is, unmarked and without clean-up', async () => {
    const { outcome, marks, log } = await run(StepChain.first(checkout).next(build).next(image(false)).next(deploy(new Error('store down'))).next(postDeploy(0)));
    assert.deepEqual(outcome, { error: 'store down' });
    assert.equal(marks.at(-1), 'deploy running');
    assert.deepEqual(log, []);
  });
});
