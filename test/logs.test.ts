// `dormant logs` reading what a running local runtime wrote: real replicas, real files.
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { runCli, tempStateDir } from '../cli/test-support.js';
import { LocalRuntime, LocalStore } from '../runtime/index.js';
import { deployFixture } from '../runtime/local/test-fixtures/fixture-app.js';

describe('dormant logs', async () => {
  const stateDir = await tempStateDir();
  const store = await LocalStore.open({ stateDir });
  const runtime = new LocalRuntime({ stateDir, store, log: pino({ level: 'silent' }), terminationGraceMs: 2000 });
  await runtime.start();
  after(async () => {
    await runtime.close();
    await store.close();
  });
  const { app, revision } = await deployFixture(store, { app: 'chatty', revision: 'chatty-00001', env: { VERSION: 'v1' } });
  await runtime.rollout(app, revision);
  await runtime.setScale('chatty', 1);
  for await (const endpoints of runtime.endpoints('chatty')) if (endpoints.some((e) => e.ready)) break;

  it('prints each line with its time and replica', async () => {
    const result = await runCli(stateDir, ['logs', 'chatty']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^\d{4}-\d\d-\d\dT[\d:.]+Z \[chatty-00001-\w+\] starting chatty-00001-\w+ version=v1$/m);
    const json = (await runCli(stateDir, ['logs', 'chatty', '-o', 'json'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { stream: string });
    // The platform's events first (the scale up, the replica's start), then the app's own lines.
    assert.equal(json[0]?.stream, 'platform');
    assert.equal(json.find((line) => line.stream !== 'platform')?.stream, 'stdout');
    assert.match(result.stdout, /^\S+ \[dormant\] Scaling from 0 to 1 replica$/m);
    const appOnly = await runCli(stateDir, ['logs', 'chatty', '--source', 'app']);
    assert.doesNotMatch(appOnly.stdout, /\[dormant\]/);
  });

  it('--since keeps recent lines only, and refuses what is not a duration', async () => {
    assert.notEqual((await runCli(stateDir, ['logs', 'chatty', '--since', '1h'])).stdout, '');
    assert.equal((await runCli(stateDir, ['logs', 'chatty', '--since', '1h'], { now: new Date(Date.now() + 7_200_000) })).stdout, '');
    const bad = await runCli(stateDir, ['logs', 'chatty', '--since', 'yesterday']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--since yesterday is not a duration; use one such as 30s, 5m or 2h/);
  });

  it('-f follows new lines until stopped', async () => {
    const stop = new AbortController();
    const output = new EventEmitter();
    let printed = '';
    /** Until the follower has printed a line matching pattern (an AbortError after 10 s). */
    const until = async (pattern: RegExp) => {
      const deadline = AbortSignal.timeout(10_000);
      while (!pattern.test(printed)) await once(output, 'printed', { signal: deadline });
    };
    const following = runCli(stateDir, ['logs', 'chatty', '-f', '--since', '1h'], {
      stop: stop.signal,
      onStdout: (stdout) => {
        printed = stdout;
        output.emit('printed');
      },
    });
    // The lines already there (the replica's start) are printed first: from then on it follows.
    await until(/starting chatty-00001-\w+/);
    await runtime.setScale('chatty', 0);
    for await (const endpoints of runtime.endpoints('chatty')) if (endpoints.length === 0) break;
    await until(/SIGTERM: closing$/m);
    stop.abort();
    const result = await following;
    assert.equal(result.code, 0);
    assert.match(result.stdout, /\[chatty-00001-\w+\] SIGTERM: closing$/m);
  });

  it('of an app that does not exist is an error', async () => {
    const result = await runCli(stateDir, ['logs', 'nobody']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /App "nobody" does not exist/);
  });
});
