// manifests/crds on the cluster's real kube-apiserver: they install, defaults apply, and
// the CEL rules refuse bad objects with the same messages crds/ gives (crds/ checks the
// rules with @bufbuild/cel; this is the apiserver's own evaluation).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isDormantError } from '../../errors/index.js';
import { KubeStore } from '../../runtime/kube/index.js';
import { eventually, kubeconfig, kubectl, kubectlOk } from './cluster-support.js';

const crds = join(fileURLToPath(new URL('../..', import.meta.url)), 'manifests', 'crds');
const namespace = `crds-${process.pid}`;
const app = (name: string, spec: string) => `apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec: ${spec}\n`;
const revision = (commit: string) =>
  `apiVersion: dormant.dev/v1alpha1\nkind: Revision\nmetadata: {name: hello-00001, namespace: ${namespace}}\nspec: {app: hello, commit: "${commit}", run: {}}\n`;

before(async () => {
  await kubectlOk(['apply', '-k', crds]);
  await kubectlOk(['wait', '--for', 'condition=Established', 'crd/apps.dormant.dev', 'crd/revisions.dormant.dev', 'crd/autoscalepolicies.dormant.dev', '--timeout', '60s']);
  await kubectlOk(['create', 'namespace', namespace]);
});

after(async () => {
  await kubectl(['delete', 'namespace', namespace, '--wait=false']);
});

it('a valid App is stored with its defaults', async () => {
  // Discovery of a just-established CRD can lag by a moment.
  await eventually('the App created', async () => ((await kubectl(['apply', '-f', '-'], app('hello', '{run: {env: {DATABASE_URL: x}}, autoscale: {minScale: 1, maxScale: 3, stableWindow: 30s}}'))).code === 0 ? true : undefined), 30_000, 500);
  assert.match(await kubectlOk(['get', 'app', 'hello', '-n', namespace, '-o', 'jsonpath={.spec.git}']), /"branch":"main"/);
});

it('an invalid App is refused with every CEL message, and nothing is stored', async () => {
  const refused = await kubectl(['apply', '-f', '-'], app('broken', '{run: {env: {"1BAD": x}}, autoscale: {minScale: 2, maxScale: 1, stableWindow: 2s}}'));
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /minScale must not exceed maxScale/);
  assert.match(refused.stderr, /stableWindow must be between 6s and 1h/);
  assert.match(refused.stderr, /environment variable names must match/);
  assert.notEqual((await kubectl(['get', 'app', 'broken', '-n', namespace])).code, 0);
  assert.equal(await kubectlOk(['get', 'app', 'hello', '-n', namespace, '-o', 'jsonpath={.spec.autoscale.maxScale}']), '3', 'the valid App is untouched');
});

it("a Revision's spec cannot change", async () => {
  await kubectlOk(['apply', '-f', '-'], revision('0123456789012345678901234567890123456789'));
  const changed = await kubectl(['apply', '-f', '-'], revision('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'));
  assert.notEqual(changed.code, 0);
  assert.match(changed.stderr, /is immutable/);
  assert.equal(await kubectlOk(['get', 'revision', 'hello-00001', '-n', namespace, '-o', 'jsonpath={.spec.commit}']), '0123456789012345678901234567890123456789');
});

it('a bad object gets the same path and reason from dormant as from the apiserver, for an App and an AutoscalePolicy', async () => {
  const store = await KubeStore.open({ kubeconfig });
  try {
    const cases = [
      {
        kind: 'App' as const,
        yaml: app('limits', '{autoscale: {minScale: 3, maxScale: 2}}'),
        input: { apiVersion: 'dormant.dev/v1alpha1', kind: 'App' as const, metadata: { name: 'limits', namespace }, spec: { autoscale: { minScale: 3, maxScale: 2 } } },
        path: 'spec.autoscale.maxScale',
        reason: 'minScale must not exceed maxScale',
      },
      {
        kind: 'AutoscalePolicy' as const,
        yaml: `apiVersion: dormant.dev/v1alpha1\nkind: AutoscalePolicy\nmetadata: {name: hasty, namespace: ${namespace}}\nspec: {stableWindow: 2s}\n`,
        input: { apiVersion: 'dormant.dev/v1alpha1', kind: 'AutoscalePolicy' as const, metadata: { name: 'hasty', namespace }, spec: { stableWindow: '2s' } },
        path: 'spec.stableWindow',
        reason: 'stableWindow must be between 6s and 1h',
      },
    ];
    for (const c of cases) {
      const byKubectl = await kubectl(['apply', '-f', '-'], c.yaml);
      assert.notEqual(byKubectl.code, 0);
      assert.match(byKubectl.stderr, new RegExp(`${c.path.replace(/\./g, '\\.')}: Invalid value: [^\n]*${c.reason}`), byKubectl.stderr);
      const byDormant = await store.create(c.input).catch((error: unknown) => error);
      assert.ok(isDormantError(byDormant, 'STORE_INVALID'), String(byDormant));
      assert.ok((byDormant as Error).message.includes(`${c.path}: ${c.reason}`), (byDormant as Error).message);
      assert.equal(await store.find(c.kind, c.input.metadata.name, namespace), undefined, 'nothing stored');
    }
  } finally {
    await store.close();
  }
});
