// The ResourceStore contract against the test cluster's real kube-apiserver (npm run
// test:cluster): the same suite the local store passes.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { clusterDir, kubeconfig, kubectl, kubectlOk } from '../../test/cluster/cluster-support.js';
import { resourceStoreContract } from '../resource-store-contract.js';
import { KubeStore } from './kube-store.js';

const crds = join(fileURLToPath(new URL('../..', import.meta.url)), 'manifests', 'crds');
const kindsToClear = 'apps.dormant.dev,revisions.dormant.dev,autoscalepolicies.dormant.dev';

/** The contract writes to namespaces default and other, which these tests own on the test cluster. */
async function clearNamespaces(): Promise<void> {
  for (const namespace of ['default', 'other']) await kubectl(['delete', kindsToClear, '--all', '-n', namespace, '--wait=true']);
}

resourceStoreContract('KubeStore', async () => {
  await kubectlOk(['apply', '-k', crds]);
  await kubectlOk(['wait', '--for', 'condition=Established', 'crd/apps.dormant.dev', 'crd/revisions.dormant.dev', 'crd/autoscalepolicies.dormant.dev', '--timeout', '60s']);
  if ((await kubectl(['get', 'namespace', 'other'])).code !== 0) await kubectlOk(['create', 'namespace', 'other']);
  await clearNamespaces();
  return {
    store: await KubeStore.open({ kubeconfig }),
    openPeer: () => KubeStore.open({ kubeconfig }),
    cleanup: clearNamespaces,
  };
});

it('an apiserver that takes the request and never answers (SIGSTOP, for real): the call fails at its deadline, saying so, and the next one after it resumes works', async () => {
  const store = await KubeStore.open({ kubeconfig, requestTimeoutMs: 1500 });
  const pid = Number((await readFile(join(clusterDir, 'pids', 'kube-apiserver'), 'utf8')).split(' ')[0]);
  assert.ok(pid > 1);
  try {
    // Only a few seconds: the cluster's own components renew their leases every 10 s or so.
    process.kill(pid, 'SIGSTOP');
    const started = performance.now();
    await assert.rejects(store.get('App', 'no-such-app'), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'STORE_API_UNREACHABLE');
      assert.match(error.message, /did not answer \(no answer within 1\.5 s\)/);
      return true;
    });
    const tookMs = performance.now() - started;
    assert.ok(tookMs >= 1400 && tookMs < 4000, `failed at the deadline (${tookMs.toFixed(0)} ms)`);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await assert.rejects(store.get('App', 'no-such-app'), (error: Error & { code?: string }) => error.code === 'STORE_NOT_FOUND');
  await store.close();
});
