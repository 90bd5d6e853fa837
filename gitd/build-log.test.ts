import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { BuildLog, buildLogFile, maxBuildLogBytes } from './build-log.js';

it("a build's output is kept to its first 1 MiB, every line still reaching the pusher; the file is Dormant's only", async () => {
  const stateDir = await mkdtemp(join(tmpdir(), 'dormant-build-log-'));
  try {
    const log = new BuildLog();
    let forwarded = 0;
    const progress = log.tee(() => forwarded++);
    const line = 'x'.repeat(1023);
    for (let i = 0; i < 3000; i++) progress(line);
    log.note('-----> Rejected: the build failed');
    await log.save(stateDir, 'shop', 'shop-00001');
    const file = buildLogFile(stateDir, 'shop', 'shop-00001');
    const text = await readFile(file, 'utf8');
    assert.equal(forwarded, 3000);
    assert.ok(Buffer.byteLength(text) <= maxBuildLogBytes + 200, `${Buffer.byteLength(text)} bytes kept`);
    assert.match(text, /\(the rest is not kept: a build log keeps its first 1 MiB\)\n$/);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
});
