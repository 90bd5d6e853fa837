// gitd's start-up: what an earlier process left behind is cleared before the first push.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { pino } from 'pino';
import { LocalStore } from '../runtime/index.js';
import { GitServer } from './index.js';

it('packs an earlier process was receiving when it died are removed when gitd starts', async (t) => {
  const stateDir = await mkdtemp(join(tmpdir(), 'dormant-gitd-start-'));
  t.after(() => rm(stateDir, { recursive: true, force: true }));
  const stale = join(stateDir, 'incoming', 'incoming-1234-abc.pack');
  await mkdir(join(stateDir, 'incoming'), { recursive: true });
  await writeFile(stale, 'PACK half a push');
  const store = await LocalStore.open({ stateDir });
  t.after(() => store.close());
  const pipeline = { deploy: () => Promise.reject(new Error('no push is made in this test')), recoverInterrupted: async () => [], release: () => Promise.reject(new Error('no release is made in this test')), startOneOff: () => Promise.reject(new Error('nothing runs in this test')) };
  const gitd = new GitServer({ stateDir, store, pipeline, log: pino({ level: 'silent' }), port: 0 });
  await gitd.start();
  t.after(() => gitd.close());
  assert.equal(existsSync(stale), false, 'the stale pack is gone');
  assert.equal(existsSync(join(stateDir, 'repos')), true, 'the repositories folder is there');
});
