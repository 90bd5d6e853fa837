// Dormant's components as separate processes against the test cluster (npm run test:k8s):
// an activator with gitd, and two autoscalers that share a coordination.k8s.io Lease. The
// activator posts its load to both; the one holding the Lease acts. Killing it (SIGKILL,
// no goodbye) lets the other take the Lease, and the app under steady traffic does not
// scale down for want of history; once traffic stops, the new leader scales it to zero.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type DormantUp, freePort, nodeApp, startDormant, WorkingCopy } from '../git-support.js';
import { eventually, getApp, kubeconfig, kubectl, kubectlOk } from './cluster-support.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const app = 'kha';
const base = ['--runtime', 'kubernetes', '--kubeconfig', kubeconfig, '--registry', '127.0.0.1:5000'];
let front: DormantUp;
const autoscalers: DormantUp[] = [];

const get = () => getApp(front.httpPort, app, 30_000);

const leaseHolder = async () => (await kubectl(['get', 'lease', 'dormant-autoscaler', '-n', 'default', '-o', 'jsonpath={.spec.holderIdentity}'])).stdout.trim();
const replicas = async () => Number((await kubectl(['get', 'deployment', `${app}-00001`, '-o', 'jsonpath={.spec.replicas}'])).stdout || 'NaN');

before(async () => {
  await kubectlOk(['apply', '-k', join(repo, 'manifests', 'crds')]);
  await kubectlOk(['wait', '--for', 'condition=Established', 'crd/apps.dormant.dev', 'crd/revisions.dormant.dev', 'crd/autoscalepolicies.dormant.dev', '--timeout', '60s']);
  await kubectl(['delete', 'apps.dormant.dev', app, '--ignore-not-found', '--wait=true']);
  await kubectl(['delete', 'lease', 'dormant-autoscaler', '--ignore-not-found']);
  for (let i = 0; i < 2; i++) autoscalers.push(await startDormant([...base, '--component', 'autoscaler', '--autoscaler-port', String(await freePort())]));
  front = await startDormant([...base, '--component', 'activator,gitd']);
});

after(async () => {
  await front?.stop();
  for (const autoscaler of autoscalers) await autoscaler.stop();
  await kubectl(['delete', 'apps.dormant.dev', app, '--ignore-not-found', '--wait=false']);
});

it('the autoscaler holding the Lease is killed under traffic: the other takes over with the history, nothing scales down, and it acts after', async (t: TestContext) => {
  const holder = await eventually('a leader', async () => (await leaseHolder()) || undefined, 30_000, 200);
  const leader = autoscalers.find((a) => holder.endsWith(`-${a.pid}`));
  assert.ok(leader, `the Lease holder ${holder} is one of the two autoscalers (${autoscalers.map((a) => a.pid).join(', ')})`);
  const standby = autoscalers.find((a) => a !== leader);
  assert.ok(standby);

  await kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'dormant.dev/v1alpha1', kind: 'App', metadata: { name: app, namespace: 'default' }, spec: { autoscale: { stableWindow: '6s', scaleToZeroGracePeriod: '0s' } } }));
  const copy = await WorkingCopy.create(front.work, app, front.adminKey);
  await copy.commit(nodeApp('ha'));
  const pushed = await copy.push(front.remote(app));
  assert.equal(pushed.code, 0, pushed.stderr + front.logs());

  // Steady traffic: a request every 50 ms keeps one pod.
  const failures: string[] = [];
  let answered = 0;
  let running = true;
  const traffic = (async () => {
    while (running) {
      await get().then(
        (a) => (a.status === 200 ? answered++ : failures.push(`${a.status} ${a.body.trim()}`)),
        (error: Error) => failures.push(error.message),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  try {
    await eventually('the app woken by the traffic', async () => ((await replicas()) >= 1 && answered > 20 ? true : undefined), 60_000, 200).catch((error: Error) => {
      const tail = (text: string) => text.split('\n').slice(-15).join('\n');
      throw new Error(`${error.message}; failures: ${failures.slice(-3).join(' | ')}\nfront:\n${tail(front.logs())}\nleader:\n${tail(leader.logs())}\nstandby:\n${tail(standby.logs())}`);
    });
    // Longer than the stable window, so the standby's history covers a whole window.
    await new Promise((resolve) => setTimeout(resolve, 8_000));

    process.kill(leader.pid, 'SIGKILL');
    const killed = performance.now();
    // What the killed leader wrote last stays in the status until the new one writes: not the new leader's decision.
    const autoscaledNow = async () =>
      (await kubectl(['get', 'apps.dormant.dev', app, '-o', 'jsonpath={.status.conditions[?(@.type=="Autoscaled")].message}'])).stdout;
    const leftByKilled = await autoscaledNow();
    const next = await eventually('the standby holding the Lease', async () => {
      const now = await leaseHolder();
      return now.endsWith(`-${standby.pid}`) ? now : undefined;
    }, 30_000, 200);
    t.diagnostic(`Lease taken over by ${next} ${((performance.now() - killed) / 1000).toFixed(1)} s after the leader was killed`);
    // Its decisions use the load it collected while standing by: no warming up, no holding for want of history.
    const reasons = new Set<string>();
    const sampleFrom = performance.now();
    while (performance.now() < sampleFrom + 6_000 || (reasons.size === 0 && performance.now() < sampleFrom + 20_000)) {
      const reason = await autoscaledNow();
      if (reason !== leftByKilled) reasons.add(reason);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(reasons.size > 0, `the new leader wrote its decisions (the killed one's last: ${leftByKilled})`);
    t.diagnostic(`the new leader's reasons: ${[...reasons].join(' | ')}`);
    // "stable: C concurrent over T s": with the standby's history T is the whole 6 s window from the first decision on.
    const shortSighted = [...reasons].filter((r) => /warming up|no history/.test(r) || Number(/over ([\d.]+) s/.exec(r)?.[1] ?? '6') < 6);
    assert.deepEqual(shortSighted, [], 'decisions made without a whole window of history');
    // Through and past the takeover, the app keeps its pod: the new leader decides with the load it already saw.
    const watchUntil = performance.now() + 15_000;
    let lowest = Number.POSITIVE_INFINITY;
    while (performance.now() < watchUntil) {
      lowest = Math.min(lowest, await replicas());
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(lowest >= 1, `the Deployment went down to ${lowest} replicas after the takeover`);
  } finally {
    running = false;
    await traffic;
  }
  assert.deepEqual(failures, [], `${failures.length} of ${answered + failures.length} requests failed`);
  t.diagnostic(`${answered} requests answered, none failed`);

  // The new leader acts: without traffic, the app goes to zero.
  await eventually('scaled to zero by the new leader', async () => ((await replicas()) === 0 ? true : undefined), 60_000, 500);
  assert.match(standby.logs(), /acting: took over scaling/);
});
