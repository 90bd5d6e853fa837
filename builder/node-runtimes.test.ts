import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NodeRuntimes } from './node-runtimes.js';

describe('NodeRuntimes', () => {
  it('a release made before is used as it is; beyond the number of releases kept, a new one is refused with why, before any download', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'dormant-runtimes-'));
    try {
      await mkdir(join(folder, '20.1.0'));
      await writeFile(join(folder, '20.1.0', '.complete'), '20.1.0\n');
      // A registry nobody listens on: reaching it would fail differently.
      const runtimes = new NodeRuntimes(folder, { maxReleases: 1, registry: 'http://127.0.0.1:9' });
      let fetched = false;
      assert.equal(await runtimes.ensure('20.1.0', () => (fetched = true)), join(folder, '20.1.0'));
      assert.equal(fetched, false);
      await assert.rejects(runtimes.ensure('22.12.0'), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'BUILD_NODE_UNAVAILABLE');
        assert.match(error.message, /^Node 22\.12\.0 cannot be had here \(this machine keeps at most 1 Node releases and has them all; its operator can remove those no app asks for any more from Dormant's runtimes folder\)/);
        assert.doesNotMatch(error.message, new RegExp(folder), 'no host path for the tenant');
        return true;
      });
      await assert.rejects(runtimes.ensure('not-a-version'), /not a Node version/);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
