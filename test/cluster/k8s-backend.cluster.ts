// Dormant on the test cluster (npm run test:k8s): `dormant up --runtime kubernetes` on the
// host against the real apiserver, kubelet and containerd. A real git push over SSH builds
// an image into the cluster's registry; the revision becomes a Deployment at zero pods; a
// request wakes it; it returns to zero; a second push under a trickle of requests fails
// none; kubectl shows the App; deleting the App lets Kubernetes collect the rest.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type DormantUp, nodeApp, startDormant, WorkingCopy } from '../git-support.js';
import { type AppAnswer, eventually, getApp, kubeconfig, kubectl, kubectlOk } from './cluster-support.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const crds = join(repo, 'manifests', 'crds');
const registry = '127.0.0.1:5000';
const app = 'khello';
let dormant: DormantUp;
let copy: WorkingCopy;

const get = () => getApp(dormant.httpPort, app);

async function deploymentReplicas(): Promise<Record<string, number>> {
  const list = JSON.parse(await kubectlOk(['get', 'deployments', '-l', `dormant.dev/app=${app}`, '-o', 'json'])) as { items: { metadata: { name: string }; spec: { replicas: number } }[] };
  return Object.fromEntries(list.items.map((d) => [d.metadata.name, d.spec.replicas]));
}

const podCount = async () => (await kubectlOk(['get', 'pods', '-l', `dormant.dev/app=${app}`, '-o', 'name'])).split('\n').filter((l) => l.length > 0).length;

before(async () => {
  await kubectlOk(['apply', '-k', crds]);
  await kubectlOk(['wait', '--for', 'condition=Established', 'crd/apps.dormant.dev', 'crd/revisions.dormant.dev', 'crd/autoscalepolicies.dormant.dev', '--timeout', '60s']);
  await kubectl(['delete', 'apps.dormant.dev', app, '--ignore-not-found', '--wait=true']);
  await kubectl(['delete', 'deployments,revisions.dormant.dev', '-l', `dormant.dev/app=${app}`, '--wait=true']);
  dormant = await startDormant(['--runtime', 'kubernetes', '--kubeconfig', kubeconfig, '--registry', registry]);
});

after(async () => {
  await dormant?.stop();
  await kubectl(['delete', 'apps.dormant.dev', app, '--ignore-not-found', '--wait=false']);
  await kubectl(['delete', 'autoscalepolicies.dormant.dev', 'keep-one', '--ignore-not-found']);
});

it('a git push builds an image, records a Deployment at zero pods, and a request wakes it with X-Dormant-Cold-Start', async (t: TestContext) => {
  // A short grace period, so the return to zero is seen within the test.
  await kubectlOk(
    ['apply', '-f', '-'],
    JSON.stringify({ apiVersion: 'dormant.dev/v1alpha1', kind: 'App', metadata: { name: app, namespace: 'default' }, spec: { autoscale: { stableWindow: '6s', scaleToZeroGracePeriod: '2s' } } }),
  );
  copy = await WorkingCopy.create(dormant.work, app, dormant.adminKey);
  await copy.commit(nodeApp('k8s v1'));
  const started = performance.now();
  const pushed = await copy.push(dormant.remote(app));
  assert.equal(pushed.code, 0, pushed.stderr + dormant.logs());
  t.diagnostic(`push to deployed on Kubernetes: ${(performance.now() - started).toFixed(0)} ms (${/Deployed [^(]+\(([^)]*)\)/.exec(pushed.stderr)?.[1]})`);
  assert.match(pushed.stderr, new RegExp(`Image ${registry.replace(/\./g, '\\.')}/dormant/${app}@sha256:[0-9a-f]{64}`));

  // The rollout proved the revision starts, then went back to zero.
  assert.deepEqual(await deploymentReplicas(), { [`${app}-00001`]: 0 });
  const deployment = JSON.parse(await kubectlOk(['get', 'deployment', `${app}-00001`, '-o', 'json'])) as {
    metadata: { ownerReferences: { kind: string; name: string }[] };
    spec: { template: { spec: { enableServiceLinks: boolean; containers: { image: string }[] } } };
  };
  assert.deepEqual(deployment.metadata.ownerReferences.map((o) => `${o.kind}/${o.name}`), [`App/${app}`]);
  assert.equal(deployment.spec.template.spec.enableServiceLinks, false);
  assert.match(deployment.spec.template.spec.containers[0]?.image ?? '', /@sha256:[0-9a-f]{64}$/, 'by digest, never by tag');
  await eventually('no pods at zero', async () => ((await podCount()) === 0 ? true : undefined), 60_000);

  const woken = performance.now();
  const answer = await get();
  t.diagnostic(`first request from zero on Kubernetes: ${(performance.now() - woken).toFixed(0)} ms (X-Dormant-Cold-Start: ${answer.coldStart})`);
  assert.equal(answer.status, 200, answer.body);
  assert.equal(answer.body, 'k8s v1\n');
  assert.ok(answer.coldStart, 'the answer says it waited for a cold start');
  assert.equal((await get()).coldStart, undefined, 'a second request finds the pod warm');
});

it('scales back to zero pods after the grace period', async () => {
  await eventually('the Deployment at zero', async () => ((await deploymentReplicas())[`${app}-00001`] === 0 ? true : undefined), 90_000, 500);
  await eventually('no pods left', async () => ((await podCount()) === 0 ? true : undefined), 60_000, 500);
});

it('kubectl get apps shows URL, READY, REPLICAS, REVISION and AGE', async () => {
  const table = await kubectlOk(['get', 'apps.dormant.dev', app]);
  const [header = '', row = ''] = table.trim().split('\n');
  assert.deepEqual(header.split(/\s+/), ['NAME', 'URL', 'READY', 'REPLICAS', 'REVISION', 'AGE']);
  const cells = row.split(/\s+/);
  assert.equal(cells[0], app);
  assert.equal(cells[1], `http://${app}.localhost:${dormant.httpPort}`);
  assert.equal(cells[2], 'True');
  assert.equal(cells[3], '0');
  assert.equal(cells[4], `${app}-00001`);
  // describe: the conditions, and the steps of the latest push.
  const described = await kubectlOk(['describe', 'apps.dormant.dev', app]);
  assert.match(described, /Conditions:[\s\S]*Reason:\s+ScaledToZero[\s\S]*Type:\s+Ready/);
  assert.match(described, /Latest Revision Steps:[\s\S]*Name:\s+checkout[\s\S]*Name:\s+deploy\s+Started At:[^\n]*\s+State:\s+succeeded/);
});

it('an AutoscalePolicy applied with kubectl takes effect at the next tick; an invalid one is refused with the CEL message', async () => {
  const policy = (minScale: number, stableWindow = '6s') =>
    JSON.stringify({ apiVersion: 'dormant.dev/v1alpha1', kind: 'AutoscalePolicy', metadata: { name: 'keep-one', namespace: 'default' }, spec: { minScale, stableWindow } });
  const refused = await kubectl(['apply', '-f', '-'], policy(1, '1s'));
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /spec\.stableWindow: Invalid value: .*stableWindow must be between 6s and 1h/);
  await kubectlOk(['apply', '-f', '-'], policy(1));
  await kubectlOk(['patch', 'apps.dormant.dev', app, '--type', 'merge', '-p', JSON.stringify({ spec: { autoscale: { policyRef: 'keep-one' } } })]);
  const applied = performance.now();
  await eventually('minScale 1 from the policy: one pod with no traffic', async () => ((await deploymentReplicas())[`${app}-00001`] === 1 ? true : undefined), 30_000, 200);
  assert.ok(performance.now() - applied < 30_000);
  await eventually('the pod answering', async () => ((await get()).body === 'k8s v1\n' ? true : undefined), 30_000, 200);
});

it('a push under a trickle of requests fails none, and then only the new version answers', async (t: TestContext) => {
  // v2 also says when it listens, for dormant logs to show.
  await copy.commit({
    ...nodeApp('k8s v2'),
    // /slow answers after 8 s: the next test's request in flight while v2's pods stop.
    'server.js':
      "require('node:http').createServer((q, s) => (q.url === '/slow' ? setTimeout(() => s.end('k8s v2 slow\\n'), 8000) : s.end('k8s v2\\n'))).listen(process.env.PORT, () => console.log('k8s v2 listening on ' + process.env.PORT));\n",
  });
  const answers: AppAnswer[] = [];
  const failures: string[] = [];
  let trickling = true;
  const trickle = (async () => {
    while (trickling) {
      await get().then(
        (a) => {
          answers.push(a);
          if (a.status !== 200) failures.push(`${a.status} ${a.body}`);
        },
        (error: Error) => failures.push(`${new Date().toISOString()} ${error.message}`),
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  // The trickle wakes the app and keeps it warm: the push replaces pods that are serving.
  await eventually('the app warm under the trickle', async () => (answers.filter((a) => a.body === 'k8s v1\n').length >= 10 ? true : undefined), 60_000, 50);
  const before = answers.length;
  const pushed = await copy.push(dormant.remote(app));
  const during = answers.length - before;
  // A little longer: requests already sent to the old pods when it returned must end well too.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  trickling = false;
  await trickle;
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.deepEqual(failures, [], `${failures.length} of ${answers.length} requests failed during the push; dormant up's log:\n${dormant.logs().split('\n').slice(-25).join('\n')}`);
  t.diagnostic(`${during} requests during the push and ${answers.length} in all, none failed`);
  for (let i = 0; i < 20; i++) assert.equal((await get()).body, 'k8s v2\n', `request ${i} after the push returned`);
  const replicas = await deploymentReplicas();
  assert.equal(replicas[`${app}-00001`], 0, 'the old revision is scaled to zero, kept for a rollback');
  // dormant logs reads the pods' logs through the apiserver.
  const logs = await dormant.dormant('logs', app);
  assert.equal(logs.code, 0, logs.stderr);
  assert.match(logs.stdout, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[^ ]+ \\[${app}-00002-[a-z0-9]+-[a-z0-9]+\\] k8s v2 listening on 8080$`, 'm'));
  assert.ok((replicas[`${app}-00002`] ?? 0) >= 1);
});

it('dormant logs -f follows pods started after it began, from their first line', async () => {
  const follower = spawn(process.execPath, [join(repo, 'bin', 'dormant.js'), 'logs', '-f', app, '--state-dir', dormant.stateDir]);
  let out = '';
  follower.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  follower.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  try {
    const [old] = (await kubectlOk(['get', 'pods', '-l', `dormant.dev/revision=${app}-00002`, '-o', 'name'])).trim().split('\n');
    assert.ok(old, 'a v2 pod runs');
    await eventually('the running pod printed', async () => (out.includes(old.replace('pod/', '')) ? true : undefined), 30_000, 100);
    // The Deployment replaces the deleted pod: a pod dormant logs -f did not know when it started.
    await kubectlOk(['delete', old, '--wait=false']);
    const fresh = await eventually('a replacement pod', async () => {
      const names = (await kubectlOk(['get', 'pods', '-l', `dormant.dev/revision=${app}-00002`, '-o', 'name'])).trim().split('\n').filter((n) => n !== '' && n !== old);
      return names[0]?.replace('pod/', '');
    }, 60_000, 200);
    await eventually(`the line of ${fresh}`, async () => (new RegExp(`\\[${fresh}\\] k8s v2 listening on 8080`).test(out) ? true : undefined), 60_000, 200);
  } finally {
    follower.kill('SIGTERM');
    await once(follower, 'exit');
  }
});

it("a request in flight when its pod is stopped (a push replaces it) finishes on that pod: the pod waits for the activator's connections to close", async (t: TestContext) => {
  const started = performance.now();
  const slow = getApp(dormant.httpPort, app, 60_000, '/slow');
  await new Promise((resolve) => setTimeout(resolve, 300));
  await copy.commit(nodeApp('k8s v3'));
  const pushed = await copy.push(dormant.remote(app));
  assert.equal(pushed.code, 0, pushed.stderr);
  const v2Pods = async () => (await kubectlOk(['get', 'pods', '-l', `dormant.dev/revision=${app}-00002`, '-o', 'jsonpath={.items[*].metadata.deletionTimestamp}'])).trim();
  await eventually('the v2 pod stopping', async () => ((await v2Pods()) !== '' ? true : undefined), 30_000, 100);
  const answer = await slow;
  t.diagnostic(`the 8 s request answered after ${((performance.now() - started) / 1000).toFixed(1)} s: ${answer.status} ${answer.body.trim()}`);
  assert.equal(answer.status, 200, answer.body);
  assert.equal(answer.body, 'k8s v2 slow\n', 'answered by the pod it started on, not cut and replayed on v3');
  assert.equal((await get()).body, 'k8s v3\n');
  await eventually('the v2 pod gone once its last connection closed', async () => ((await kubectlOk(['get', 'pods', '-l', `dormant.dev/revision=${app}-00002`, '-o', 'name'])).trim() === '' ? true : undefined), 30_000, 200);
});

it('deleting the App with kubectl lets Kubernetes delete its Deployments and pods', async () => {
  await kubectlOk(['delete', 'apps.dormant.dev', app]);
  await eventually('Deployments collected', async () => (Object.keys(await deploymentReplicas()).length === 0 ? true : undefined), 60_000, 500);
  await eventually('Revisions collected', async () => ((await kubectlOk(['get', 'revisions.dormant.dev', '-l', `dormant.dev/app=${app}`, '-o', 'name'])).trim() === '' ? true : undefined), 60_000, 500);
  await eventually('pods gone', async () => ((await podCount()) === 0 ? true : undefined), 60_000, 500);
  assert.equal((await get()).status, 404);
});
