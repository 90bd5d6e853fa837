// Faults of the Kubernetes backend on the test cluster (npm run test:k8s): the apiserver
// stopped for 30 s (by its pid, hack/cluster/component) while a warm app takes requests.
// The activator keeps serving from the endpoints it last saw; when the apiserver returns,
// watches resume and a change made then (a second pod) reaches the activator.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type DormantUp, nodeApp, startDormant, WorkingCopy } from '../git-support.js';
import { eventually, getApp, kubeconfig, kubectl, kubectlOk } from './cluster-support.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const app = 'kfault';
let dormant: DormantUp;

const get = () => getApp(dormant.httpPort, app, 10_000);

function component(action: 'stop' | 'start', name: string): void {
  const result = spawnSync('bash', [join(repo, 'hack', 'cluster', 'component'), action, name], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
}

const apiserverReady = async () => ((await kubectl(['get', '--raw', '/readyz'])).code === 0 ? true : undefined);

before(async () => {
  await kubectlOk(['apply', '-k', join(repo, 'manifests', 'crds')]);
  await kubectlOk(['wait', '--for', 'condition=Established', 'crd/apps.dormant.dev', 'crd/revisions.dormant.dev', 'crd/autoscalepolicies.dormant.dev', '--timeout', '60s']);
  await kubectl(['delete', 'apps.dormant.dev', app, '--ignore-not-found', '--wait=true']);
  dormant = await startDormant(['--runtime', 'kubernetes', '--kubeconfig', kubeconfig, '--registry', '127.0.0.1:5000']);
});

after(async () => {
  component('start', 'kube-apiserver');
  await eventually('the apiserver back', apiserverReady, 90_000, 500).catch(() => undefined);
  await dormant?.stop();
  await kubectl(['delete', 'apps.dormant.dev', app, '--ignore-not-found', '--wait=false']);
});

it('with the apiserver gone for 30 s, a warm app answers every request; when it returns, changes flow again', async (t: TestContext) => {
  // minScale 1 keeps one pod whatever the traffic, so the outage is all that changes.
  await kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'dormant.dev/v1alpha1', kind: 'App', metadata: { name: app, namespace: 'default' }, spec: { autoscale: { minScale: 1 } } }));
  const copy = await WorkingCopy.create(dormant.work, app, dormant.adminKey);
  await copy.commit(nodeApp('steady'));
  const pushed = await copy.push(dormant.remote(app));
  assert.equal(pushed.code, 0, pushed.stderr);
  await eventually('the app warm', async () => ((await get()).body === 'steady\n' ? true : undefined), 60_000, 200);

  component('stop', 'kube-apiserver');
  assert.equal(await apiserverReady(), undefined, 'the apiserver is down');
  const outage = performance.now();
  const failures: string[] = [];
  let answered = 0;
  while (performance.now() - outage < 30_000) {
    await get().then(
      (a) => {
        if (a.status === 200 && a.body === 'steady\n') answered++;
        else failures.push(`${a.status} ${a.body.trim()}`);
      },
      (error: Error) => failures.push(error.message),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.diagnostic(`${answered} requests answered during the 30 s without an apiserver`);
  assert.deepEqual(failures, []);
  assert.ok(answered > 100);

  component('start', 'kube-apiserver');
  await eventually('the apiserver back', apiserverReady, 90_000, 500);
  // A change after the outage: two pods. The runtime's pod watch must have resumed for the second to take requests.
  await kubectlOk(['patch', 'apps.dormant.dev', app, '--type', 'merge', '-p', JSON.stringify({ spec: { autoscale: { minScale: 2 } } })]);
  const pods = async () =>
    (
      JSON.parse(await kubectlOk(['get', 'pods', '-l', `dormant.dev/app=${app}`, '-o', 'json'])) as {
        items: { metadata: { name: string; deletionTimestamp?: string }; status: { conditions?: { type: string; status: string }[] } }[];
      }
    ).items.filter((p) => p.metadata.deletionTimestamp === undefined && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  // The kubelet's own watches back off while the apiserver is away (client-go, up to a minute): allow for it.
  await eventually('two Ready pods after the outage', async () => ((await pods()).length === 2 ? true : undefined), 180_000, 500);
  const metrics = async () => (await dormant.dormant('apps', '-o', 'json')).stdout;
  await eventually('dormant sees both pods ready', async () => ((JSON.parse(await metrics()) as { readyReplicas: number }[])[0]?.readyReplicas === 2 ? true : undefined), 30_000, 500).catch(
    async (error: Error) => {
      throw new Error(`${error.message}\ndormant apps: ${await metrics()}\npods: ${JSON.stringify((await pods()).map((p) => p.metadata.name))}\ndormant up's log:\n${dormant.logs().split('\n').slice(-40).join('\n')}`);
    },
  );
  for (let i = 0; i < 20; i++) assert.equal((await get()).body, 'steady\n');
});
