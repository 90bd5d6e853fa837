import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isDormantError } from '../../errors/index.js';
import { appInput, resourceStoreContract } from '../resource-store-contract.js';
import { LocalStore } from './local-store.js';

const tempState = () => mkdtemp(join(tmpdir(), 'dormant-store-'));

resourceStoreContract('LocalStore', async () => {
  const stateDir = await tempState();
  return {
    store: await LocalStore.open({ stateDir }),
    openPeer: () => LocalStore.open({ stateDir }),
    cleanup: () => rm(stateDir, { recursive: true, force: true }),
  };
});

const writerLoop = fileURLToPath(new URL('./test-fixtures/writer-loop.ts', import.meta.url));

/** Collects every file under dir, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
}

describe('LocalStore on disk', () => {
  it('keeps one pretty JSON file per object under objects/<plural>/<namespace>/', async () => {
    const stateDir = await tempState();
    const store = await LocalStore.open({ stateDir, now: () => new Date('2026-01-02T03:04:05.678Z') });
    try {
      await store.create(appInput('on-disk'));
      const text = await readFile(join(stateDir, 'objects', 'apps', 'default', 'on-disk.json'), 'utf8');
      const stored = JSON.parse(text);
      assert.equal(stored.metadata.name, 'on-disk');
      assert.equal(stored.metadata.creationTimestamp, '2026-01-02T03:04:05Z');
      assert.ok(text.includes('\n  "apiVersion"'), 'indented for people who read state files');
    } finally {
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('a file that is not JSON is reported with its path, and the rest stays readable', async () => {
    const stateDir = await tempState();
    const store = await LocalStore.open({ stateDir });
    try {
      await store.create(appInput('healthy'));
      await store.create(appInput('broken'));
      const file = join(stateDir, 'objects', 'apps', 'default', 'broken.json');
      await writeFile(file, '{"apiVersion": ');
      await assert.rejects(store.get('App', 'broken'), (error: unknown) => isDormantError(error, 'STORE_CORRUPT') && error.message.includes(file));
      assert.equal((await store.get('App', 'healthy')).metadata.name, 'healthy');
    } finally {
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('a lock held by a live process times out with STORE_LOCKED naming it', async () => {
    const stateDir = await tempState();
    const holder = spawn('sleep', ['30']);
    const store = await LocalStore.open({ stateDir, lockTimeoutMs: 200 });
    try {
      await writeFile(join(stateDir, 'objects', '.lock'), String(holder.pid));
      await assert.rejects(store.create(appInput('blocked')), (error: unknown) => isDormantError(error, 'STORE_LOCKED') && error.message.includes(`process ${holder.pid}`));
      assert.equal(await store.find('App', 'blocked'), undefined);
    } finally {
      holder.kill('SIGKILL');
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('kill -9 during a loop of writes leaves every file parseable and the store writable', async () => {
    const stateDir = await tempState();
    try {
      for (let round = 0; round < 6; round++) {
        const child = spawn(process.execPath, ['--import', 'tsx', writerLoop, stateDir, String(round)], { stdio: ['ignore', 'pipe', 'inherit'] });
        // Kill it after it has written for a while: a different moment in each round.
        const writesBeforeKill = 15 + round * 13;
        await new Promise<void>((resolve, reject) => {
          let count = 0;
          child.stdout.on('data', (chunk: Buffer) => {
            count += chunk.toString().split('\n').filter(Boolean).length;
            if (count >= writesBeforeKill) resolve();
          });
          child.on('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
        });
        const exited = new Promise((resolve) => child.on('exit', resolve));
        child.kill('SIGKILL');
        await exited;
        for (const file of await filesUnder(join(stateDir, 'objects'))) {
          if (!file.endsWith('.json') || file.includes('.tmp-')) continue;
          assert.doesNotThrow(() => JSON.parse(readFileSync(file, 'utf8')), `unparseable after kill -9: ${file}`);
        }
        const store = await LocalStore.open({ stateDir, lockTimeoutMs: 2000 });
        const apps = await store.list('App');
        assert.ok(apps.length > 0);
        // The dead writer may have left its lock: the next write must break it, not wait.
        await store.create(appInput(`after-kill-${round}`));
        await store.close();
      }
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
