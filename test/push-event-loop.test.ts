// Admitting a large push keeps every app answering: indexing the pack and checking its
// objects (seconds of CPU for tens of thousands of objects) run in a worker thread, not on
// the event loop that serves HTTP. Real `dormant up`, real git and OpenSSH clients.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type DormantUp, deployBystander, runProgram, sshCommand, startDormant, WorkingCopy } from './git-support.js';

let d: DormantUp;
before(async () => {
  d = await startDormant();
  await deployBystander(d, 'steady');
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
      // The pace of the asking, not a wait for something to happen.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const pushed = await push;
    t.diagnostic(`${blobs} blobs: push ${(performance.now() - started).toFixed(0)} ms; steady answered ${answers} times, largest gap ${maxGapMs.toFixed(0)} ms`);
    assert.equal(pushed.code, 0, pushed.stderr);
    const tip = (await copy.git('rev-parse', 'many')).stdout.trim();
    assert.equal((await readFile(join(d.stateDir, 'repos', 'steady.git', 'refs', 'heads', 'many'), 'utf8')).trim(), tip, 'the branch is in the repository');
    assert.ok(maxGapMs < 1000, `steady went ${maxGapMs.toFixed(0)} ms without answering while the pack was admitted`);
  });

  it('a push whose client goes away while its pack is admitted stops there: no repository, no App, nothing in incoming/, and steady answers', async () => {
    // The objects the test before made, sent as the first push of a new app; git in its own process group, to kill it with its ssh.
    const dir = join(d.work, 'many');
    const child = spawn('git', ['push', d.remote('abandoned'), 'many:main'], {
      cwd: dir,
      detached: true,
      env: { ...process.env, HOME: dir, GIT_SSH_COMMAND: sshCommand(d.adminKey) },
    });
    const exited = once(child, 'exit');
    try {
      // Received once the incoming pack stops growing; admitting 50,000 objects then takes seconds.
      // Polled: nothing tells of the end of the upload but the file no longer growing.
      const incoming = join(d.stateDir, 'incoming');
      let size = -1;
      for (let stable = 0; stable < 5; ) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        const files = (await readdir(incoming).catch(() => [])).filter((f) => f.endsWith('.pack'));
        const now = files.length === 1 ? (await stat(join(incoming, files[0] ?? ''))).size : -1;
        stable = now > 0 && now === size ? stable + 1 : 0;
        size = now;
      }
    } finally {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      await exited;
    }
    // gitd logs "push served" once the push is over: its pack removed, its repository and App too.
    await d.untilLogged(/"app":"abandoned".*"msg":"push served"/);
    assert.match(d.logs(), /"app":"abandoned".*"err":"the push was closed while its pack was being indexed"/, 'the admission stopped when the client went away');
    assert.deepEqual(await readdir(join(d.stateDir, 'incoming')), []);
    assert.equal(existsSync(join(d.stateDir, 'repos', 'abandoned.git')), false, 'repos/abandoned.git is left behind');
    const apps = JSON.parse((await d.dormant('apps', '-o', 'json')).stdout) as { name: string }[];
    assert.deepEqual(apps.map((a) => a.name), ['steady']);
    assert.equal((await d.get('steady')).body, 'steady\n');
  });
});
