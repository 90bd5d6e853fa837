import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type App, apiVersion, type Revision } from '../crds/index.js';
import { isDormantError } from '../errors/index.js';
import { configChange, planRelease, revisionNamed, userConfig } from './release-plan.js';

const app = (env: Record<string, string>, serving?: string): App =>
  ({ apiVersion, kind: 'App', metadata: { name: 'web' }, spec: { run: { env } }, ...(serving ? { status: { readyRevision: serving } } : {}) }) as unknown as App;
const revision = (number: number, phase: string, env: Record<string, string>, platformEnv?: Record<string, string>): Revision =>
  ({
    apiVersion,
    kind: 'Revision',
    metadata: { name: `web-${String(number).padStart(5, '0')}` },
    spec: { app: 'web', commit: String(number).repeat(40).slice(0, 40), strategy: 'auto', run: { env }, ...(platformEnv ? { platformEnv } : {}) },
    status: { phase, steps: [] },
  }) as unknown as Revision;

const refused = (run: () => unknown, code: string, message: RegExp) => assert.throws(run, (error: unknown) => isDormantError(error, code) && message.test(error.message));

describe('planRelease', () => {
  const history = [
    revision(1, 'Ready', { NODE_ENV: 'production', A: '1' }, { NODE_ENV: 'production' }),
    revision(2, 'Failed', { NODE_ENV: 'production' }, { NODE_ENV: 'production' }),
    revision(3, 'Ready', { NODE_ENV: 'development', A: '3' }, { NODE_ENV: 'production' }),
    revision(4, 'Ready', { NODE_ENV: 'production', A: '4' }, { NODE_ENV: 'production' }),
  ];

  it('a config change releases the serving build with its platform variables under the App config', () => {
    const plan = planRelease(app({ A: '5', B: '2' }, 'web-00004'), history, { kind: 'config', set: { A: '5', B: '2' }, unset: [], by: 'me' });
    assert.equal(plan.from.metadata.name, 'web-00004');
    assert.deepEqual(plan.env, { NODE_ENV: 'production', A: '5', B: '2' });
    assert.deepEqual(plan.change, { kind: 'config', description: 'Set A, B', by: 'me' });
    assert.equal(plan.appEnv, undefined);
    assert.deepEqual(planRelease(app({ NODE_ENV: 'test' }, 'web-00004'), history, { kind: 'config', set: { NODE_ENV: 'test' }, unset: [] }).env, { NODE_ENV: 'test' });
  });

  it('a rollback without a version takes the newest release before the serving one that served, with its config', () => {
    const plan = planRelease(app({ A: '4' }, 'web-00004'), history, { kind: 'rollback' });
    assert.equal(plan.from.metadata.name, 'web-00003');
    assert.deepEqual(plan.env, { NODE_ENV: 'development', A: '3' });
    assert.deepEqual(plan.appEnv, { NODE_ENV: 'development', A: '3' }, 'a platform variable the user had set is theirs');
    assert.equal(plan.change.description, 'Rollback to v3');
    assert.deepEqual(planRelease(app({}, 'web-00003'), history, { kind: 'rollback' }).appEnv, { A: '1' }, 'v2 failed: v1, its NODE_ENV the default');
  });

  it('a rollback to a version by v, number or name', () => {
    for (const to of ['v1', '1', 'web-00001']) assert.equal(planRelease(app({}, 'web-00004'), history, { kind: 'rollback', to }).from.metadata.name, 'web-00001');
  });

  it('refuses what cannot be released, naming why', () => {
    refused(() => planRelease(app({}), history, { kind: 'config', set: { A: '1' }, unset: [] }), 'GITD_NOTHING_DEPLOYED', /web has no release serving/);
    refused(() => planRelease(app({}), history, { kind: 'rollback' }), 'GITD_NOTHING_DEPLOYED', /nothing to roll back from/);
    refused(() => planRelease(app({}, 'web-00001'), history, { kind: 'rollback' }), 'GITD_NO_SUCH_RELEASE', /no release before v1 that served; .* \(v1 to v4\)/);
    refused(() => planRelease(app({}, 'web-00004'), history, { kind: 'rollback', to: 'v9' }), 'GITD_NO_SUCH_RELEASE', /no release "v9"/);
    refused(() => planRelease(app({}, 'web-00004'), history, { kind: 'rollback', to: 'other-00001' }), 'GITD_NO_SUCH_RELEASE', /no release "other-00001"/);
    refused(() => planRelease(app({}, 'web-00004'), history, { kind: 'rollback', to: 'v2' }), 'GITD_RELEASE_NOT_RUNNABLE', /v2 cannot be rolled back to: it never served \(Failed\)/);
    refused(() => planRelease(app({}, 'web-00004'), history, { kind: 'rollback', to: 'v4' }), 'GITD_RELEASE_NOT_RUNNABLE', /it is the release serving now/);
  });

  it('names and descriptions', () => {
    assert.equal(revisionNamed('web', 'v12'), 'web-00012');
    assert.equal(revisionNamed('web', 'web-x'), undefined);
    assert.equal(configChange(['A'], ['B', 'C']), 'Set A; unset B, C');
    assert.equal(configChange([], ['B']), 'Unset B');
    assert.equal(configChange(Array.from({ length: 10 }, (_, i) => `K${i}`), []), 'Set K0, K1, K2, K3, K4, K5, K6, K7 and 2 more');
    assert.deepEqual(userConfig(history[0]?.spec ?? ({} as Revision['spec'])), { A: '1' });
    assert.equal(configChange(Array.from({ length: 8 }, (_, i) => `K${i}${'x'.repeat(200)}`), []).length, 512);
  });

  it('a release made before platformEnv was recorded: the stack’s defaults it has', () => {
    const old = (stack: string, env: Record<string, string>) => ({ app: 'web', commit: 'a'.repeat(40), strategy: 'auto', stack, run: { env } }) as unknown as Revision['spec'];
    assert.deepEqual(userConfig(old('docker.io/library/node:26-slim', { NODE_ENV: 'production', A: '1' })), { A: '1' });
    assert.deepEqual(userConfig(old('docker.io/library/python:3.13-slim', { PYTHONUNBUFFERED: '1' })), {});
    assert.deepEqual(userConfig(old('docker.io/library/node:26-slim', { NODE_ENV: 'development' })), { NODE_ENV: 'development' });
  });
});
