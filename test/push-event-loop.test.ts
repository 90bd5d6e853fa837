// Admitting a large push keeps every app answering: indexing the pack and checking its
// objects (seconds of CPU for tens of thousands of objects) run in a worker thread, not on
// the event loop that serves HTTP. Real `dormant up`, real git and OpenSSH clients.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type DormantUp, nodeApp, runProgram, startDormant, WorkingCopy } from './git-support.js';

let d: DormantUp;
before(async () => {
  d = await startDormant();
  const steady = await WorkingCopy.create(d.work, 'steady', d.adminKey);
  await steady.commit(nodeApp('steady'));
  const pushed = await steady.push(d.remote('steady'));
  assert.equal(pushed.code, 0, pushed.stderr);
});
after(async () => {
  await d?.stop();
});

/** git fast-import input for one commit on `branch` holding `blobs` small files in 500 folders. */
function manyBlobs(branch: string, blobs: number): string {
  const parts: string[] = [];
  for (let i = 1; i <= blobs; i++) {
    const data = `blob ${i}\n`;
    parts.push(`blob\nmark :${i}\ndata ${Buffer.byteLength(data)}\n${data}\n`);
  }
  parts.push(`commit refs/heads/${branch}\ncommitter Dormant Test <test@dormant.invalid> 1700000000 +0000\ndata 5\nmany\n`);
  for (let i = 1; i <= blobs; i++) parts.push(`M 100644 :${i} d${i % 500}/f${i}.txt\n`);
  return parts.join('');
}

describe('a large push is admitted off the event loop', () => {
  it('while 50,000 objects are indexed and checked, another app answers with no gap over 1 s', async (t: TestContext) => {
    const blobs = Number(process.env.DORMANT_TEST_BLOBS ?? 50_000);
    const copy = await WorkingCopy.create(d.work, 'many', d.adminKey);
    // fast-import writes the objects as a pack at once (git add of 50,000 files would take long).
    const imported = await runProgram('git', ['fast-import', '--quiet'], { cwd: copy.dir, input: manyBlobs('many', blobs) });
    assert.equal(imported.code, 0, imported.stderr);

    let pushing = true;
    const started = performance.now();
    // A branch that is not the deploy branch: the push is admission only, no build.
    const push = copy.push(d.remote('steady'), 'many').finally(() => {
      pushing = false;
    });
    let last = performance.now();
    let maxGapMs = 0;
    let answers = 0;
    while (pushing) {
      const response = await d.get('steady');
      assert.equal(response.status, 200, response.body);
      assert.equal(response.body, 'steady\n');
      const now = performance.now();
      maxGapMs = Math.max(maxGapMs, now - last);
      last = now;
      answers++;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const pushed = await push;
    t.diagnostic(`${blobs} blobs: push ${(performance.now() - started).toFixed(0)} ms; steady answered ${answers} times, largest gap ${maxGapMs.toFixed(0)} ms`);
    assert.equal(pushed.code, 0, pushed.stderr);
    const tip = (await copy.git('rev-parse', 'many')).stdout.trim();
    assert.equal((await readFile(join(d.stateDir, 'repos', 'steady.git', 'refs', 'heads', 'many'), 'utf8')).trim(), tip, 'the branch is in the repository');
    assert.ok(maxGapMs < 1000, `steady went ${maxGapMs.toFixed(0)} ms without answering while the pack was admitted`);
  });
});
