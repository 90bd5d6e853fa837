// `dormant policy` and the namespace's `default` AutoscalePolicy, on a real state folder.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LocalStore } from '../runtime/index.js';
import { runCli, tempStateDir } from './test-support.js';

const defaultPolicy = 'apiVersion: dormant.dev/v1alpha1\nkind: AutoscalePolicy\nmetadata:\n  name: default\nspec:\n  queueDepth: 5\n  containerConcurrency: 2\n';

describe('dormant policy and the namespace default policy', () => {
  it('get shows the values the default policy sets as coming from it, and the app overrides over it', async () => {
    const stateDir = await tempStateDir();
    await runCli(stateDir, ['apps', 'create', 'api']);
    await runCli(stateDir, ['apps', 'create', 'pinned']);
    const file = join(stateDir, 'default.yaml');
    await writeFile(file, defaultPolicy);
    assert.equal((await runCli(stateDir, ['apply', '-f', file])).code, 0);
    const got = await runCli(stateDir, ['policy', 'get', 'api']);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stderr, '');
    assert.match(got.stdout, /^queueDepth +5 +policy default \(namespace default\)$/m);
    assert.match(got.stdout, /^containerConcurrency +2 +policy default \(namespace default\)$/m);
    assert.match(got.stdout, /^target +100 +default$/m);
    const json = JSON.parse((await runCli(stateDir, ['policy', 'get', 'api', '-o', 'json'])).stdout);
    assert.equal(json.policy, 'default');
    assert.equal(json.policyRef, null);
    assert.equal(json.sources.queueDepth, 'policy default (namespace default)');

    const set = await runCli(stateDir, ['policy', 'set', 'api', 'queueDepth=9']);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^queueDepth +9 +app$/m);
    assert.match(set.stdout, /^containerConcurrency +2 +policy default \(namespace default\)$/m);

    const store = await LocalStore.open({ stateDir });
    try {
      const other = await store.get('App', 'pinned');
      assert.deepEqual(other.spec.autoscale, {}, 'the other app is untouched');
    } finally {
      await store.close();
    }
  });

  it('set refuses an override that conflicts with the default policy, and changes nothing', async () => {
    const stateDir = await tempStateDir();
    await runCli(stateDir, ['apps', 'create', 'api']);
    await runCli(stateDir, ['apply', '-f', '-'], { stdin: 'apiVersion: dormant.dev/v1alpha1\nkind: AutoscalePolicy\nmetadata: {name: default}\nspec: {maxScale: 3}\n' });
    const refused = await runCli(stateDir, ['policy', 'set', 'api', 'minScale=5']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /minScale must not exceed maxScale \(3 is less than minScale 5\)/);
    const store = await LocalStore.open({ stateDir });
    try {
      assert.deepEqual((await store.get('App', 'api')).spec.autoscale, {});
    } finally {
      await store.close();
    }
  });
});
