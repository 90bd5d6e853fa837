// The ResourceStore contract against the test cluster's real kube-apiserver (npm run
// test:cluster): the same suite the local store passes.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kubeconfig, kubectl, kubectlOk } from '../../test/cluster/cluster-support.js';
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
