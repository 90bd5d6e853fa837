// A request to a sleeping app, end to end on real parts: the activator holds it, the
// wake-only scaler starts a replica through the local runtime, and the answer says how
// long the wake-up took.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, it, type TestContext } from 'node:test';
import { pino } from 'pino';
import { Activator } from '../activator/index.js';
import { WakeOnlyScaler } from '../autoscaler/index.js';
import { tempStateDir } from '../cli/test-support.js';
import { LocalRuntime, LocalStore } from '../runtime/index.js';
import { deployFixture } from '../runtime/local-runtime/test-fixtures/fixture-app.js';

const log = pino({ level: 'silent' });

function get(port: number, host: string): Promise<{ status: number; coldStart: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, coldStart: res.headers['x-dormant-cold-start'] as string | undefined, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

it('the first request to an app at zero wakes it and is answered, with X-Dormant-Cold-Start', async (t: TestContext) => {
  const stateDir = await tempStateDir();
  const store = await LocalStore.open({ stateDir });
  const runtime = new LocalRuntime({ stateDir, store, log, terminationGraceMs: 2000 });
  await runtime.start();
  const activator = new Activator({ store, endpoints: runtime, stats: new WakeOnlyScaler(runtime, log), log, domain: 'localhost', port: 0 });
  after(async () => {
    await activator.close();
    await runtime.close();
    await store.close();
  });
  const { app, revision } = await deployFixture(store, { app: 'napper', revision: 'napper-00001', env: { VERSION: 'v1' } });
  await runtime.rollout(app, revision);
  const port = await activator.start();
  assert.equal(runtime.describe('napper').replicas.length, 0, 'asleep before the request');

  const started = performance.now();
  const first = await get(port, 'napper.localhost');
  const totalMs = performance.now() - started;
  assert.equal(first.status, 200);
  assert.match(first.body, /^version=v1 replica=napper-00001-\w+$/);
  assert.ok(first.coldStart !== undefined && Number(first.coldStart) > 0, `cold-start header: ${first.coldStart}`);
  t.diagnostic(`first request from zero: ${totalMs.toFixed(1)} ms end to end, X-Dormant-Cold-Start: ${first.coldStart} ms`);

  const warm = await get(port, 'napper.localhost');
  assert.equal(warm.status, 200);
  assert.equal(warm.coldStart, undefined, 'a warm request carries no cold-start header');
});
