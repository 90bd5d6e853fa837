// Branch rules with the real git and OpenSSH clients: only the deploy branch deploys, a
// deploy must contain the deployed commit whatever ref carries it, no branch is rewritten
// and no tag moved without spec.git.allowForcePush, and a forced push says so.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DormantUp, nodeApp, runProgram, startDormant, WorkingCopy } from './git-support.js';

let d: DormantUp;
before(async () => {
  d = await startDormant();
});
after(async () => {
  await d?.stop();
});

async function serverRef(app: string, ref: string): Promise<string> {
  const result = await runProgram('git', ['--git-dir', join(d.stateDir, 'repos', `${app}.git`), 'rev-parse', '--verify', '-q', ref]);
  return result.stdout.trim();
}

async function answer(app: string): Promise<string> {
  const response = await d.get(app);
  assert.equal(response.status, 200, `${app} answered ${response.status}: ${response.body}`);
  return response.body.trim();
}

async function appSpec(app: string): Promise<{ git: { branch: string } }> {
  return (JSON.parse(await readFile(join(d.stateDir, 'objects', 'apps', 'default', `${app}.json`), 'utf8')) as { spec: { git: { branch: string } } }).spec;
}

async function revisionCount(app: string): Promise<number> {
  return (JSON.parse((await d.dormant('revisions', app, '-o', 'json')).stdout) as unknown[]).length;
}

async function apply(name: string, yaml: string): Promise<void> {
  const file = join(d.work, `${name}.yaml`);
  await writeFile(file, yaml);
  const applied = await d.dormant('apply', '-f', file);
  assert.equal(applied.code, 0, applied.stderr);
}

/** A working copy whose main deployed "v1", and a second history with no commit in common, on branch "evil". */
async function deployedWithRewrite(app: string): Promise<WorkingCopy> {
  const copy = await WorkingCopy.create(d.work, app, d.adminKey);
  await copy.commit(nodeApp('v1'), 'v1');
  const pushed = await copy.push(d.remote(app));
  assert.equal(pushed.code, 0, pushed.stderr);
  await copy.git('checkout', '-q', '--orphan', 'evil');
  await copy.commit(nodeApp('evil'), 'rewritten history');
  return copy;
}

describe('only the deploy branch deploys, and only on top of what is deployed', () => {
  it('a rewritten history pushed to master while main deploys is stored, not deployed; main keeps serving', async () => {
    const copy = await deployedWithRewrite('rewrite-master');
    const pushed = await copy.push(d.remote('rewrite-master'), 'evil:master');
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.doesNotMatch(pushed.stderr, /Building|Deployed/);
    assert.match(pushed.stderr, /remote: -----> master stored, not deployed: only main deploys/);
    assert.equal(await answer('rewrite-master'), 'v1');
    assert.equal(await revisionCount('rewrite-master'), 1);
    // Rewriting master now is refused like any branch.
    const before = await serverRef('rewrite-master', 'refs/heads/master');
    await copy.git('checkout', '-q', '--orphan', 'evil3');
    await copy.commit(nodeApp('evil3'), 'third history');
    const rewrite = await copy.push(d.remote('rewrite-master'), '--force', 'evil3:master');
    assert.notEqual(rewrite.code, 0);
    assert.match(rewrite.stderr, /! \[remote rejected\] evil3 -> master \(non-fast-forward: master is at [0-9a-f]{7}, which this push does not contain; .*spec\.git\.allowForcePush/);
    assert.equal(await serverRef('rewrite-master', 'refs/heads/master'), before);
  });

  it('a feature branch cannot be rewritten either; a fast-forward of it is stored', async () => {
    const copy = await WorkingCopy.create(d.work, 'rewrite-feature', d.adminKey);
    await copy.commit(nodeApp('f1'), 'f1');
    assert.equal((await copy.push(d.remote('rewrite-feature'))).code, 0);
    await copy.commit(nodeApp('f2'), 'f2');
    assert.equal((await copy.push(d.remote('rewrite-feature'), 'main:feature')).code, 0);
    const stored = await serverRef('rewrite-feature', 'refs/heads/feature');
    await copy.git('reset', '-q', '--hard', 'HEAD~1');
    await copy.commit(nodeApp('f3'), 'f3 instead of f2');
    const forced = await copy.push(d.remote('rewrite-feature'), '--force', 'main:feature');
    assert.notEqual(forced.code, 0);
    assert.match(forced.stderr, /! \[remote rejected\] main -> feature \(non-fast-forward: feature is at [0-9a-f]{7}/);
    assert.equal(await serverRef('rewrite-feature', 'refs/heads/feature'), stored);
    assert.equal(await answer('rewrite-feature'), 'f1');
  });

  it('a tag does not move', async () => {
    const copy = await WorkingCopy.create(d.work, 'tags', d.adminKey);
    const first = await copy.commit(nodeApp('t1'), 't1');
    await copy.git('tag', 'v1');
    assert.equal((await copy.push(d.remote('tags'), 'main', 'v1')).code, 0);
    await copy.commit(nodeApp('t2'), 't2');
    await copy.git('tag', '-f', 'v1');
    const moved = await copy.push(d.remote('tags'), '--force', 'main', 'v1');
    assert.match(moved.stderr, /! \[remote rejected\] v1 -> v1 \(tag v1 already exists at [0-9a-f]{7} and tags do not move; push a new tag/);
    assert.equal(await serverRef('tags', 'refs/tags/v1'), first);
    assert.equal(await answer('tags'), 't2');
    // Nor in two steps: deleted, then pushed again at another commit.
    const deleted = await copy.push(d.remote('tags'), ':refs/tags/v1');
    assert.match(deleted.stderr, /! \[remote rejected\] v1 \(tag v1 \(at [0-9a-f]{7}\) cannot be deleted/);
    assert.equal(await serverRef('tags', 'refs/tags/v1'), first);
  });

  it('a deploy branch changed in the App does not let a new ref deploy a history without the deployed commit', async () => {
    const copy = await deployedWithRewrite('new-branch');
    await apply('new-branch', 'apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: new-branch}\nspec:\n  git: {branch: prod}\n');
    const pushed = await copy.push(d.remote('new-branch'), 'evil:prod');
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.stderr, /! \[remote rejected\] evil -> prod \(non-fast-forward: the deployed revision is at [0-9a-f]{7}, which this push does not contain/);
    assert.equal(await serverRef('new-branch', 'refs/heads/prod'), '');
    assert.equal(await answer('new-branch'), 'v1');
    // Built on what serves, the new branch deploys.
    await copy.git('checkout', '-q', 'main');
    await copy.commit(nodeApp('v2'), 'v2');
    const built = await copy.push(d.remote('new-branch'), 'main:prod');
    assert.equal(built.code, 0, built.stderr);
    assert.match(built.stderr, /Deployed new-branch-00002/);
    assert.equal(await answer('new-branch'), 'v2');
  });

  it('with spec.git.allowForcePush a rewrite deploys, and the pusher and the log are told it was forced', async () => {
    await apply('forced', 'apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: forced}\nspec:\n  git: {allowForcePush: true}\n');
    const copy = await deployedWithRewrite('forced');
    const pushed = await copy.push(d.remote('forced'), '--force', 'evil:main');
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /remote: -----> forced update of main: [0-9a-f]{7}\.\.\.[0-9a-f]{7}, history rewritten \(allowed by spec\.git\.allowForcePush\)/);
    assert.match(pushed.stderr, /\+ [0-9a-f]+\.\.\.[0-9a-f]+ +evil -> main \(forced update\)/);
    assert.equal(await answer('forced'), 'evil');
    const line = d
      .logs()
      .split('\n')
      .find((l) => l.includes('forced push accepted'));
    assert.ok(line, 'the forced push is logged');
    const logged = JSON.parse(line) as { app: string; ref: string; old: string; new: string; level: number };
    assert.equal(logged.app, 'forced');
    assert.equal(logged.ref, 'refs/heads/main');
    assert.equal(logged.level, 40);
    assert.match(logged.old, /^[0-9a-f]{40}$/);
    assert.equal(logged.new, await serverRef('forced', 'refs/heads/main'));
  });
});

describe('a repository whose branch is master', () => {
  it('a first push of master alone deploys it and makes master the deploy branch; main is then stored only', async () => {
    const copy = await WorkingCopy.create(d.work, 'heroku-style', d.adminKey);
    await copy.git('checkout', '-q', '-b', 'master');
    await copy.commit(nodeApp('m1'), 'm1');
    const pushed = await copy.push(d.remote('heroku-style'), 'master');
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /remote: -----> master becomes the deploy branch of heroku-style \(spec\.git\.branch: master\)/);
    assert.match(pushed.stderr, /Deployed heroku-style-00001/);
    assert.equal(await answer('heroku-style'), 'm1');
    assert.equal((await appSpec('heroku-style')).git.branch, 'master');
    await copy.commit(nodeApp('m2'), 'm2');
    const main = await copy.push(d.remote('heroku-style'), 'master:main');
    assert.equal(main.code, 0, main.stderr);
    assert.match(main.stderr, /remote: -----> main stored, not deployed: only master deploys/);
    assert.equal(await answer('heroku-style'), 'm1');
    const master = await copy.push(d.remote('heroku-style'), 'master');
    assert.match(master.stderr, /Deployed heroku-style-00002/);
    assert.equal(await answer('heroku-style'), 'm2');
  });

  it('once main has deployed, a push of master is an ordinary branch', async () => {
    const copy = await WorkingCopy.create(d.work, 'main-first', d.adminKey);
    await copy.commit(nodeApp('n1'), 'n1');
    assert.equal((await copy.push(d.remote('main-first'))).code, 0);
    await copy.commit(nodeApp('n2'), 'n2');
    const pushed = await copy.push(d.remote('main-first'), 'main:master');
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /master stored, not deployed: only main deploys/);
    assert.equal(await answer('main-first'), 'n1');
    assert.equal((await appSpec('main-first')).git.branch, 'main');
  });
});
