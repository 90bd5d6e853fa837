// The Runtime contract (runtime/runtime-contract.ts) against the Kubernetes runtime on the
// test cluster (npm run test:k8s): replicas are pods of the contract app, in an image made
// here on the cluster's node:20-slim base and pushed to its registry, as git push would.
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { detectedAppUser, layerImage, RegistryClient } from '../../builder/index.js';
import { apiVersion } from '../../crds/index.js';
import { kubeconfig, kubectl, kubectlOk } from '../../test/cluster/cluster-support.js';
import { contractAppOf, runtimeContract } from '../runtime-contract.js';
import { KubeRuntime, KubeStore, loadKubeConfig } from './index.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const contractApp = fileURLToPath(new URL('../test-fixtures/contract-app.cjs', import.meta.url));
const registry = '127.0.0.1:5000';
const apps = ['rc-scale', 'rc-gated', 'rc-port', 'rc-roll', 'rc-crash', 'rc-doomed'];

/** The suite's Apps (Kubernetes collects their Deployments and pods) and Revisions, from an earlier run too. */
async function clearApps(): Promise<void> {
  await kubectl(['delete', 'apps.dormant.dev', ...apps, '--ignore-not-found', '--wait=true']);
  for (const app of apps) await kubectl(['delete', 'revisions.dormant.dev,deployments', '-l', `dormant.dev/app=${app}`, '--wait=true']);
}

/** The contract app as an image on the registry's node:20-slim (hack/cluster/images.ts pushed it). */
async function contractImage(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dormant-contract-image-'));
  try {
    await copyFile(contractApp, join(dir, 'server.js'));
    const image = await layerImage({
      registry: new RegistryClient(registry),
      base: { repository: 'library/node', tag: '20-slim' },
      repository: 'dormant/runtime-contract',
      tag: 'contract',
      layerDir: dir,
      // As gitd makes a detected app's image: /app owned by the user its pods run as.
      user: detectedAppUser,
      command: ['node', 'server.js'],
      now: new Date(0),
    });
    return image.reference;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

runtimeContract(
  'KubeRuntime',
  {
    // A pod is scheduled, its sandbox and container started and probed: seconds on this 2-core machine.
    waitMs: 120_000,
    // drained() does nothing here: a stopping pod serves through its preStop pause, then gets SIGTERM (deployment-spec.ts).
    drainedReleases: false,
    restart: {
      // The kubelet restarts the container inside the same pod: same name, same endpoint.
      sameEndpoint: true,
      // The kubelet's back-off: the first restart at once, the next after 10 s (its default initial back-off), taken from the crash; 1 s of it left for clocks and the crash's own report.
      minDelayMs: [0, 9000],
      // The kubelet's report of the pod (CrashLoopBackOff, with the last exit code) is passed on.
      condition: { status: 'False', reason: 'CrashLoopBackOff', message: /exit(ed with)? code 3/ },
    },
  },
  async () => {
    await kubectlOk(['apply', '-k', join(repo, 'manifests', 'crds')]);
    await kubectlOk(['wait', '--for', 'condition=Established', 'crd/apps.dormant.dev', 'crd/revisions.dormant.dev', 'crd/autoscalepolicies.dormant.dev', '--timeout', '60s']);
    await clearApps();
    const image = await contractImage();
    const store = await KubeStore.open({ kubeconfig });
    const runtime = new KubeRuntime({ config: loadKubeConfig(kubeconfig), store, log: pino({ level: 'silent' }), statusDelayMs: 5 });
    await runtime.start();
    let commits = 0;
    return {
      store,
      runtime,
      deploy: async ({ app: name, revision: revisionName, env, readinessPath }) => {
        const { app, run } = await contractAppOf(store, name, readinessPath);
        const created = await store.create({
          apiVersion,
          kind: 'Revision',
          metadata: { name: revisionName, labels: { 'dormant.dev/app': name } },
          spec: { app: name, commit: (++commits).toString(16).padStart(40, '0'), run: { ...run, env: { ...env } } },
        });
        // As the push pipeline records the image it pushed.
        const revision = await store.updateStatus({ ...created, status: { phase: 'Ready', steps: [], image } });
        return { app, revision };
      },
      cleanup: async () => {
        await runtime.close();
        await store.close();
        await clearApps();
      },
    };
  },
);
