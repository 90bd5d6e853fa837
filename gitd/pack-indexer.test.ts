// Admission through the indexing worker (pack-indexer.ts), on packs made by real git: what it
// answers is what admitPack answered in-process, and a push closed while its pack is being
// indexed stops the worker and leaves nothing behind.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { PackRejected } from './pack-index.js';
import { type InThreadLimits, inThreadLimits } from './pack-indexer.js';
import { AppRepository } from './repository.js';

const run = promisify(execFile);
const limits = { maxObjectBytes: 1 << 20, maxPushBytes: 1 << 24, maxObjects: 1000, maxDeltaDepth: 50 };
const gitEnv = { ...process.env, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@dormant.invalid', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@dormant.invalid', GIT_CONFIG_NOSYSTEM: '1' };

let work: string;
let commit: string;
let tree: string;
/** A pack of `oids` (each object alone) written by git pack-objects; resolves with its path. */
async function pack(name: string, oids: readonly string[]): Promise<string> {
  const child = execFile('git', ['pack-objects', '-q', join(work, name)], { cwd: join(work, 'src'), env: gitEnv });
  const hash = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`git pack-objects exited ${code}`))));
  });
  child.stdin?.end(`${oids.join('\n')}\n`);
  return join(work, `${name}-${await hash}.pack`);
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'dormant-pack-indexer-'));
  const src = join(work, 'src');
  await run('git', ['init', '-q', '-b', 'main', src], { env: gitEnv });
  await run('sh', ['-c', 'echo hello > a && git add a && git commit -q -m one'], { cwd: src, env: gitEnv });
  commit = (await run('git', ['rev-parse', 'HEAD'], { cwd: src })).stdout.trim();
  tree = (await run('git', ['rev-parse', 'HEAD^{tree}'], { cwd: src })).stdout.trim();
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A fresh repository and the pack copied into its quarantine, as receive-pack leaves it. */
async function received(packPath: string, inThread: InThreadLimits): Promise<{ repo: AppRepository; packFile: string; dir: string }> {
  const dir = await mkdtemp(join(work, 'state-'));
  const repo = AppRepository.open(join(dir, 'repos'), 'app', join(dir, 'quarantine'), inThread);
  const packFile = await repo.quarantineFile();
  await copyFile(packPath, packFile);
  return { repo, packFile, dir };
}

const packsIn = async (repo: AppRepository) => (await readdir(join(repo.gitdir, 'objects', 'pack'))).sort();

// Every pack through the worker; and the same packs, small enough, in Dormant's own thread.
const throughWorker: InThreadLimits = { maxObjects: 0, maxIndexBytes: 0 };
for (const [where, inThread] of [
  ['through the indexing worker', throughWorker],
  ["in Dormant's own thread (a small pack)", inThreadLimits],
] as const) {
describe(`admitting a pack ${where}`, () => {
  it('a complete pack joins the repository with its objects counted', async () => {
    const blob = (await run('git', ['rev-parse', 'HEAD:a'], { cwd: join(work, 'src') })).stdout.trim();
    const { repo, packFile, dir } = await received(await pack('whole', [commit, tree, blob]), inThread);
    const admitted = await repo.admitPack(packFile, [commit], limits);
    assert.equal(admitted?.objects, 3);
    assert.equal((await packsIn(repo)).length, 2, 'the pack and its index');
    assert.deepEqual(await readdir(join(dir, 'quarantine')), []);
  });

  it('a pack whose commit names a missing tree is rejected with what is missing, and removed', async () => {
    const { repo, packFile, dir } = await received(await pack('commit-only', [commit]), inThread);
    await assert.rejects(repo.admitPack(packFile, [commit], limits), (error: Error) => {
      assert.ok(error instanceof PackRejected);
      assert.equal(error.message, `tree ${tree} named by commit ${commit} is missing: the pack is incomplete (a shallow or thin push?)`);
      return true;
    });
    assert.deepEqual(await packsIn(repo), []);
    assert.deepEqual(await readdir(join(dir, 'quarantine')), []);
  });

  it('a push closed while its pack is being indexed stops the worker: rejected, and nothing is left', async () => {
    const blob = (await run('git', ['rev-parse', 'HEAD:a'], { cwd: join(work, 'src') })).stdout.trim();
    const { repo, packFile, dir } = await received(await pack('closed', [commit, tree, blob]), inThread);
    const closed = new AbortController();
    const admission = repo.admitPack(packFile, [commit], limits, closed.signal);
    closed.abort();
    await assert.rejects(admission, (error: Error) => {
      assert.ok(error instanceof PackRejected);
      assert.match(error.message, /the push was closed while its pack was being indexed/);
      return true;
    });
    assert.deepEqual(await packsIn(repo), []);
    assert.deepEqual(await readdir(join(dir, 'quarantine')), []);
  });
});
}
