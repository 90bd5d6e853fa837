// Dormant installed in the test cluster (npm run test:k8s): its image built by
// hack/image/build.ts, `kubectl apply -k` of manifests/ (through an overlay that pins that
// image by digest and keeps gitd's volume inside the cluster's state folder). Then a real
// git push over SSH to the gitd pod, a request through the activators' NodePort on
// 127.0.0.1, an activator pod and the autoscaler leader deleted under load without a failed
// request, and a gitd pod deleted without losing its repositories, host key or admin keys.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { TestCa } from '../../tls/test-support.js';
import { nodeApp, runProgram, sshKey, WorkingCopy } from '../git-support.js';
import { clusterDir, eventually, kubectl, kubectlOk, pods } from './cluster-support.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const app = 'kinst';
const system = ['-n', 'dormant-system'];
const nodePort = 30080;
const sshPort = 2022;
const gitdVolume = join(clusterDir, 'volumes', 'gitd');
const remote = `ssh://git@127.0.0.1:${sshPort}/${app}`;
let work: string;
let key: string;
let copy: WorkingCopy;
let image: string;

/** One request through the NodePort, on a keep-alive agent (or a new connection). */
async function get(agent: Agent): Promise<{ status: number; body: string; coldStart: string | undefined }> {
  const response = await request(`http://127.0.0.1:${nodePort}/`, { dispatcher: agent, headers: { host: `${app}.localhost` }, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const body = await response.body.text();
  return { status: response.statusCode, body, coldStart: response.headers['x-dormant-cold-start'] as string | undefined };
}

const componentPods = (component: string) => pods('dormant-system', `app.kubernetes.io/component=${component}`);
const leaseHolder = async () => (await kubectl(['get', 'lease', 'dormant-autoscaler', ...system, '-o', 'jsonpath={.spec.holderIdentity}'])).stdout.trim();
const replicas = async () => Number((await kubectl(['get', 'deployment', `${app}-00001`, '-o', 'jsonpath={.spec.replicas}'])).stdout || 'NaN');
const hostKey = async () => (await runProgram('ssh-keyscan', ['-p', String(sshPort), '-t', 'ed25519', '127.0.0.1'])).stdout.trim();

async function uninstall(): Promise<void> {
  await kubectl(['delete', 'apps.dormant.dev', app, '--ignore-not-found', '--wait=true', '--timeout=60s']);
  await kubectl(['delete', 'namespace', 'dormant-system', '--ignore-not-found', '--wait=true', '--timeout=120s']);
  await kubectl(['delete', 'clusterrole,clusterrolebinding,persistentvolume', '-l', 'app.kubernetes.io/name=dormant', '--ignore-not-found', '--wait=true']);
  await kubectl(['delete', 'role,rolebinding', '-n', 'default', '-l', 'app.kubernetes.io/name=dormant', '--ignore-not-found']);
}

/** Waits until every component's Deployment has all its replicas ready and up to date. */
async function rolledOut(): Promise<void> {
  for (const component of ['activator', 'autoscaler', 'gitd']) {
    await kubectlOk(['rollout', 'status', `deployment/dormant-${component}`, ...system, '--timeout=180s']);
  }
}

before(async () => {
  await uninstall();
  await rm(gitdVolume, { recursive: true, force: true });
  work = await mkdtemp(join(tmpdir(), 'dormant-install-'));
  const built = await runProgram(process.execPath, ['--import', 'tsx', join(repo, 'hack', 'image', 'build.ts'), '127.0.0.1:5000'], { cwd: repo });
  assert.equal(built.code, 0, built.stderr);
  image = built.stdout.trim();
  assert.match(image, /^127\.0\.0\.1:5000\/dormant\/dormant@sha256:[0-9a-f]{64}$/);
  // The overlay a user would write: the image by digest, and here the volume in the cluster's folder.
  const overlay = join(work, 'overlay');
  await mkdir(overlay);
  await writeFile(
    join(overlay, 'kustomization.yaml'),
    JSON.stringify({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: [relative(overlay, join(repo, 'manifests'))],
      images: [{ name: '127.0.0.1:5000/dormant/dormant', digest: image.split('@')[1] }],
      patches: [{ target: { kind: 'PersistentVolume', name: 'dormant-gitd-repos' }, patch: JSON.stringify([{ op: 'replace', path: '/spec/hostPath/path', value: gitdVolume }]) }],
    }),
  );
  await kubectlOk(['apply', '-k', overlay]);
  await rolledOut();
  // The admin key goes in as a user would add it: kubectl exec into gitd.
  key = await sshKey(work, 'admin');
  await kubectlOk(['exec', ...system, '-i', 'deployment/dormant-gitd', '-c', 'gitd', '--', 'dormant', 'keys', 'add', '-'], await readFile(`${key}.pub`, 'utf8'));
});

after(async () => {
  if (process.env.DORMANT_KEEP_INSTALL === undefined) await uninstall();
  if (work) await rm(work, { recursive: true, force: true });
});

it('installs each component with its own ServiceAccount and only the verbs it uses', async () => {
  const deployments = JSON.parse(await kubectlOk(['get', 'deployments', ...system, '-o', 'json'])) as {
    items: { metadata: { name: string }; spec: { replicas: number; template: { spec: { serviceAccountName: string; volumes?: { hostPath?: { path: string } }[]; containers: { image: string }[] } } } }[];
  };
  const byName = Object.fromEntries(deployments.items.map((d) => [d.metadata.name, d.spec]));
  assert.deepEqual(Object.keys(byName).sort(), ['dormant-activator', 'dormant-autoscaler', 'dormant-gitd']);
  assert.equal(byName['dormant-activator']?.replicas, 2);
  assert.equal(byName['dormant-autoscaler']?.replicas, 2);
  for (const [name, spec] of Object.entries(byName)) {
    assert.equal(spec.template.spec.serviceAccountName, name, `${name} runs as its own ServiceAccount`);
    assert.equal(spec.template.spec.containers[0]?.image, image, `${name} runs the image by digest`);
    assert.deepEqual(spec.template.spec.volumes?.filter((v) => v.hostPath !== undefined) ?? [], [], `${name} mounts nothing of the host (no Docker socket)`);
  }
  const bindings = JSON.parse(await kubectlOk(['get', 'clusterrolebindings', '-o', 'json'])) as { items: { roleRef: { name: string }; subjects?: { namespace?: string; name: string }[] }[] };
  const ours = bindings.items.filter((b) => (b.subjects ?? []).some((s) => s.namespace === 'dormant-system'));
  assert.deepEqual(ours.map((b) => b.roleRef.name).sort(), ['dormant-activator', 'dormant-autoscaler', 'dormant-gitd'], 'no cluster-admin');
  const can = async (account: string, verb: string, target: string, namespace = 'default') => {
    const [resource = '', subresource] = target.split('/');
    const args = ['auth', 'can-i', verb, resource, ...(subresource ? ['--subresource', subresource] : []), '-n', namespace, '--as', `system:serviceaccount:dormant-system:dormant-${account}`];
    return (await kubectl(args)).stdout.trim();
  };
  assert.equal(await can('activator', 'watch', 'pods'), 'yes');
  assert.equal(await can('activator', 'update', 'deployments.apps/scale'), 'no', 'the activator asks the autoscaler; it scales nothing');
  assert.equal(await can('activator', 'update', 'apps.dormant.dev/status'), 'no');
  assert.equal(await can('autoscaler', 'update', 'deployments.apps/scale'), 'yes');
  assert.equal(await can('autoscaler', 'create', 'deployments'), 'no');
  assert.equal(await can('activator', 'get', 'secrets'), 'no');
  assert.equal(await can('autoscaler', 'update', 'apps.dormant.dev/status'), 'yes');
  assert.equal(await can('autoscaler', 'delete', 'leases', 'dormant-system'), 'yes', 'its member Lease goes when it stops');
  assert.equal(await can('autoscaler', 'update', 'apps.dormant.dev'), 'no', 'status only');
  assert.equal(await can('autoscaler', 'create', 'events'), 'yes', 'scaling and pod events, as Events of the App');
  assert.equal(await can('activator', 'create', 'events'), 'no');
  assert.equal(await can('gitd', 'create', 'deployments'), 'yes');
  assert.equal(await can('gitd', 'deletecollection', 'deployments'), 'yes', 'a failed first deploy is retired');
  assert.equal(await can('gitd', 'delete', 'apps.dormant.dev'), 'yes', 'a failed first push removes the App it made');
  assert.equal(await can('gitd', 'delete', 'revisions.dormant.dev'), 'yes');
  assert.equal(await can('gitd', 'get', 'pods/log'), 'yes', "a failed start's last lines go into the push's answer");
  assert.equal(await can('gitd', 'update', 'deployments'), 'no');
  assert.equal(await can('gitd', 'create', 'pods'), 'yes', 'dormant run: a pod of the serving revision, as its Deployment would make');
  assert.equal(await can('gitd', 'create', 'pods/attach'), 'yes', "dormant run's streams");
  assert.equal(await can('gitd', 'create', 'pods/exec'), 'no', 'never into a replica');
  assert.equal(await can('gitd', 'create', 'events'), 'yes', "the platform's events about an app, as Events of its App");
  assert.equal(await can('activator', 'list', 'secrets', 'dormant-system'), 'yes', "the apps' certificates, kept in Dormant's namespace");
  assert.equal(await can('activator', 'list', 'secrets'), 'no', "not the apps' config Secrets");
  assert.equal(await can('gitd', 'get', 'secrets'), 'no', 'no registry secret or anything else to read');
  assert.equal(await can('gitd', 'create', 'secrets'), 'yes', "each revision's config goes into a Secret, written and never read back");
  // Asked of the apiserver by group and resource: kubectl maps a resource by discovery, and cert-manager's CRDs need not be installed.
  const may = async (account: string, verb: string, group: string, resource: string, namespace: string) => {
    const review = { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: `system:serviceaccount:dormant-system:dormant-${account}`, groups: ['system:serviceaccounts', 'system:serviceaccounts:dormant-system', 'system:authenticated'], resourceAttributes: { namespace, verb, group, resource } } };
    return (JSON.parse(await kubectlOk(['create', '-f', '-', '-o', 'json'], JSON.stringify(review))) as { status: { allowed: boolean } }).status.allowed;
  };
  assert.equal(await may('gitd', 'create', 'cert-manager.io', 'certificates', 'dormant-system'), true, "cert-manager's Certificates for automatic certificates, beside the Secrets the listener reads");
  assert.equal(await may('gitd', 'create', 'cert-manager.io', 'certificates', 'default'), false, "only in Dormant's namespace");
  assert.equal(await may('activator', 'watch', 'acme.cert-manager.io', 'challenges', 'dormant-system'), true, "cert-manager's HTTP-01 Challenges, which the activators answer");
  assert.equal(await may('activator', 'watch', 'acme.cert-manager.io', 'challenges', 'default'), false);
  assert.equal(await can('gitd', 'delete', 'secrets', 'dormant-system'), 'yes', 'a Certificate no longer wanted goes with its Secret');
  assert.equal(await can('gitd', 'get', 'secrets', 'dormant-system'), 'no', 'never read');
  assert.equal(await can('gitd', 'delete', 'secrets'), 'no', "not the apps' config Secrets");
  // Accepted by the apiserver (the test cluster's bridge CNI enforces none; test/network-policies.test.ts reads their rules).
  assert.equal(await kubectlOk(['get', 'networkpolicies', ...system, '-o', 'jsonpath={.items[*].metadata.name}']), 'dormant-activator dormant-autoscaler dormant-gitd');
  assert.equal(await can('gitd', 'create', 'deployments', 'kube-system'), 'no');
});

it('an identity that may not read pods: dormant up stops with a message that says which grant is missing, and changes nothing', async () => {
  // A ServiceAccount with the activator's read access to the resources, but no Role on pods.
  await kubectlOk(['create', 'serviceaccount', 'dormant-test-nopods', ...system]);
  await kubectlOk(['create', 'clusterrolebinding', 'dormant-test-nopods', '--clusterrole', 'dormant-activator', '--serviceaccount', 'dormant-system:dormant-test-nopods']);
  await kubectlOk(['label', 'clusterrolebinding', 'dormant-test-nopods', 'app.kubernetes.io/name=dormant']);
  const token = (await kubectlOk(['create', 'token', 'dormant-test-nopods', ...system, '--duration', '10m'])).trim();
  const admin = JSON.parse(await kubectlOk(['config', 'view', '--raw', '--minify', '-o', 'json'])) as { clusters: { name: string; cluster: Record<string, string> }[] };
  const cluster = admin.clusters[0];
  assert.ok(cluster);
  const config = join(work, 'nopods.kubeconfig');
  await writeFile(
    config,
    JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [cluster], users: [{ name: 'nopods', user: { token } }], contexts: [{ name: 'nopods', context: { cluster: cluster.name, user: 'nopods' } }], 'current-context': 'nopods' }),
  );
  const before = await kubectlOk(['get', 'deployments,apps.dormant.dev', '-A', '-o', 'name']);
  const started = performance.now();
  const up = await runProgram(process.execPath, [join(repo, 'bin', 'dormant.js'), 'up', '--runtime', 'kubernetes', '--kubeconfig', config, '--registry', '127.0.0.1:5000', '--component', 'activator', '--http-port', '0', '--metrics-port', '0', '--state-dir', join(work, 'nopods-state')], { cwd: work });
  assert.equal(up.code, 1, up.stdout + up.stderr);
  assert.match(up.stderr, /cannot list the apps' pods in namespace default: the apiserver answered 403; grant this identity get, list and watch on pods there/);
  assert.ok(performance.now() - started < 30_000, 'refused at once, not after the minute allowed for an apiserver that does not answer');
  assert.equal(await kubectlOk(['get', 'deployments,apps.dormant.dev', '-A', '-o', 'name']), before, 'nothing changed');

  // Pods granted, Deployments not: it says that one.
  await kubectlOk(['create', 'role', 'dormant-test-podsonly', '-n', 'default', '--verb', 'get,list,watch', '--resource', 'pods']);
  await kubectlOk(['create', 'rolebinding', 'dormant-test-podsonly', '-n', 'default', '--role', 'dormant-test-podsonly', '--serviceaccount', 'dormant-system:dormant-test-nopods']);
  await kubectlOk(['label', 'role,rolebinding', 'dormant-test-podsonly', '-n', 'default', 'app.kubernetes.io/name=dormant']);
  const podsOnly = await runProgram(process.execPath, [join(repo, 'bin', 'dormant.js'), 'up', '--runtime', 'kubernetes', '--kubeconfig', config, '--registry', '127.0.0.1:5000', '--component', 'activator', '--http-port', '0', '--metrics-port', '0', '--state-dir', join(work, 'nopods-state')], { cwd: work });
  assert.equal(podsOnly.code, 1, podsOnly.stdout + podsOnly.stderr);
  assert.match(podsOnly.stderr, /RUNTIME_DEPLOYMENTS_UNREADABLE.*cannot list the apps' Deployments in namespace default: the apiserver answered 403; grant this identity get, list and watch on deployments there/);
  assert.equal(await kubectlOk(['get', 'deployments,apps.dormant.dev', '-A', '-o', 'name']), before, 'nothing changed');
});

it('a git push to the gitd pod deploys at zero; a request through the NodePort wakes it with X-Dormant-Cold-Start', async (t: TestContext) => {
  await kubectlOk(
    ['apply', '-f', '-'],
    JSON.stringify({ apiVersion: 'dormant.dev/v1alpha1', kind: 'App', metadata: { name: app, namespace: 'default' }, spec: { autoscale: { stableWindow: '6s', scaleToZeroGracePeriod: '2s' } } }),
  );
  copy = await WorkingCopy.create(work, app, key);
  await copy.commit(nodeApp('installed v1'));
  const started = performance.now();
  const pushed = await copy.push(remote);
  assert.equal(pushed.code, 0, pushed.stderr);
  t.diagnostic(`push to deployed through the gitd pod: ${(performance.now() - started).toFixed(0)} ms`);
  assert.match(pushed.stderr, new RegExp(`http://${app}\\.localhost:${nodePort}`), 'the URL names the NodePort');
  await eventually('the Deployment at zero, no pods', async () => ((await replicas()) === 0 && (await pods('default', `dormant.dev/app=${app}`)).length === 0 ? true : undefined), 90_000, 250);

  const agent = new Agent();
  try {
    const woken = performance.now();
    const answer = await get(agent);
    t.diagnostic(`first request from zero through the in-cluster activator: ${(performance.now() - woken).toFixed(0)} ms`);
    assert.equal(answer.status, 200, answer.body);
    assert.equal(answer.body, 'installed v1\n');
    assert.ok(answer.coldStart, 'the answer says it waited for a cold start');
  } finally {
    await agent.close();
  }
  // The woken pod runs hardened: the runtime's seccomp profile, as its image's user (not root), no privilege escalation, no capabilities.
  const hardening = await kubectlOk(['get', 'pods', '-l', `dormant.dev/app=${app}`, '-o', 'jsonpath={.items[0].spec.securityContext.seccompProfile.type} {.items[0].spec.securityContext.runAsUser} {.items[0].spec.containers[0].securityContext}']);
  assert.match(hardening, /^RuntimeDefault 1000 \{.*"allowPrivilegeEscalation":false.*"drop":\["ALL"\]/);
  // The acting autoscaler (not the activators, not gitd) writes the App's status.
  await eventually('the App status written', async () => {
    const url = (await kubectl(['get', 'apps.dormant.dev', app, '-o', 'jsonpath={.status.url} {.status.conditions[?(@.type=="Ready")].reason}'])).stdout.trim();
    return /^http:\/\/kinst\.localhost:30080 (Serving|ScaledToZero)$/.test(url) ? url : undefined;
  }, 30_000, 250);
});

it('an activator pod and then the autoscaler leader deleted under load: no request fails, nothing scales down', async (t: TestContext) => {
  // Keep the app warm through it: load from four keep-alive clients and one that opens a new connection each time.
  const failures: string[] = [];
  let answered = 0;
  let running = true;
  let lowest = Number.POSITIVE_INFINITY;
  const keepAlive = new Agent({ connections: 4 });
  const fresh = new Agent({ pipelining: 0 });
  const worker = async (agent: Agent, pauseMs: number) => {
    while (running) {
      await get(agent).then(
        (a) => (a.status === 200 && a.body === 'installed v1\n' ? answered++ : failures.push(`${a.status} ${a.body.trim()}`)),
        (error: Error) => failures.push(`${error.name}: ${error.message}`),
      );
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  };
  const workers = [worker(keepAlive, 20), worker(keepAlive, 20), worker(keepAlive, 20), worker(keepAlive, 20), worker(fresh, 50)];
  const watchScale = (async () => {
    while (running) {
      const now = await replicas();
      if (Number.isFinite(now)) lowest = Math.min(lowest, now);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  try {
    await eventually('one pod serving under load', async () => ((await replicas()) >= 1 && answered > 50 ? true : undefined), 60_000, 200);
    lowest = Number.POSITIVE_INFINITY;

    const [victim] = await componentPods('activator');
    assert.ok(victim);
    const before = answered;
    await kubectlOk(['delete', 'pod', victim.name, ...system, '--wait=false']);
    await eventually('two activators Ready again, the deleted one gone', async () => {
      const now = await componentPods('activator');
      return now.length === 2 && now.every((p) => p.ready && p.name !== victim.name) ? true : undefined;
    }, 90_000, 250);
    t.diagnostic(`activator ${victim.name} deleted: ${answered - before} requests answered while it drained and was replaced, ${failures.length} failed`);
    assert.deepEqual(failures, []);

    const holder = await eventually('an autoscaler leader', async () => (await leaseHolder()) || undefined, 30_000, 200);
    const deletedAt = performance.now();
    await kubectlOk(['delete', 'pod', holder, ...system, '--wait=false']);
    const next = await eventually('the other autoscaler holds the Lease', async () => {
      const now = await leaseHolder();
      return now !== '' && now !== holder ? now : undefined;
    }, 60_000, 100);
    t.diagnostic(`autoscaler leader ${holder} deleted; ${next} took the Lease ${((performance.now() - deletedAt) / 1000).toFixed(1)} s later`);
    // Beyond the stable window (6 s) under the new leader: still no scale-down, still nothing failed.
    await new Promise((resolve) => setTimeout(resolve, 8_000));
    // The new leader writes the App's status, and what it writes is what runs.
    const status = await eventually('the App status from the new leader', async () => {
      const found = JSON.parse(await kubectlOk(['get', 'apps.dormant.dev', app, '-o', 'json'])) as { status?: { desiredReplicas?: number; readyReplicas?: number; conditions?: { type: string; reason: string }[] } };
      const s = found.status;
      const serving = s?.conditions?.find((c) => c.type === 'Ready')?.reason === 'Serving';
      return serving && (s?.desiredReplicas ?? 0) >= 1 && s?.desiredReplicas === (await replicas()) && (s?.readyReplicas ?? 0) >= 1 ? s : undefined;
    }, 15_000, 250);
    t.diagnostic(`App status under the new leader: desired ${status.desiredReplicas}, ready ${status.readyReplicas}`);
    // The deleted autoscaler took its member Lease with it: the activators post to the live ones only.
    await eventually('one member Lease per live autoscaler', async () => {
      const members = (await kubectlOk(['get', 'leases', ...system, '-l', 'dormant.dev/autoscaler-member=true', '-o', 'jsonpath={.items[*].spec.holderIdentity}'])).trim().split(/\s+/).sort();
      const live = (await componentPods('autoscaler')).map((p) => p.name).sort();
      return members.length === 2 && !members.includes(holder) && members.every((m) => live.includes(m)) ? true : undefined;
    }, 30_000, 250);
  } finally {
    running = false;
    await Promise.all([...workers, watchScale]);
    await keepAlive.close();
    await fresh.close();
  }
  t.diagnostic(`${answered} requests answered in all, ${failures.length} failed; lowest scale ${lowest}`);
  assert.deepEqual(failures, []);
  assert.ok(lowest >= 1, `the app never went below one pod under load (lowest ${lowest})`);
});

it('a push while the app serves (woken by the autoscaler after gitd last deployed) fails no request, and the new version keeps its pod', async (t: TestContext) => {
  const agent = new Agent({ connections: 2 });
  const failures: string[] = [];
  const bodies: string[] = [];
  let running = true;
  const trickle = (async () => {
    while (running) {
      await get(agent).then(
        (a) => (a.status === 200 ? bodies.push(a.body) : failures.push(`${a.status} ${a.body.trim()}`)),
        (error: Error) => failures.push(`${error.name}: ${error.message}`),
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  try {
    await eventually('the app warm', async () => (bodies.length >= 20 ? true : undefined), 60_000, 100);
    await copy.commit(nodeApp('installed v2'));
    const pushed = await copy.push(remote);
    assert.equal(pushed.code, 0, pushed.stderr);
    await eventually('v2 answering', async () => (bodies.at(-1) === 'installed v2\n' ? true : undefined), 30_000, 100);
    await new Promise((resolve) => setTimeout(resolve, 3000));
  } finally {
    running = false;
    await trickle;
    await agent.close();
  }
  t.diagnostic(`${bodies.length} requests through the push, ${failures.length} failed`);
  assert.deepEqual(failures, []);
  assert.equal(bodies.at(-1), 'installed v2\n');
  const v2 = Number((await kubectl(['get', 'deployment', `${app}-00002`, '-o', 'jsonpath={.spec.replicas}'])).stdout || 'NaN');
  assert.ok(v2 >= 1, `the new revision serving under the trickle has a pod (replicas ${v2})`);
  // Apart, gitd scales only the revision it rolls out; the acting autoscaler, once it follows the new revision, takes the old one to zero.
  await eventually('the old revision at zero', async () => ((await replicas()) === 0 ? true : undefined), 60_000, 250);
});

it('the gitd pod deleted: its repositories, host key and admin keys survive on the volume; the next push builds on the last', async (t: TestContext) => {
  const keyBefore = await hostKey();
  assert.match(keyBefore, /ssh-ed25519 /);
  const [old] = await componentPods('gitd');
  assert.ok(old);
  await kubectlOk(['delete', 'pod', old.name, ...system, '--wait=true']);
  await eventually('a new gitd pod Ready', async () => ((await componentPods('gitd')).some((p) => p.ready && p.name !== old.name) ? true : undefined), 120_000, 250);
  // Ready means it listens (its /readyz answers once SSH does).
  assert.equal(await hostKey(), keyBefore, 'the same host key: clients that pinned it still connect');

  await copy.commit(nodeApp('installed v3'));
  const pushed = await copy.push(remote);
  assert.equal(pushed.code, 0, pushed.stderr);
  // A fast-forward (old..new), not a new branch: the repository was still there.
  assert.match(pushed.stderr, /[0-9a-f]{7,}\.\.[0-9a-f]{7,}\s+main -> main/);
  assert.match(pushed.stderr, new RegExp(`${app}-00003`));
  const agent = new Agent();
  try {
    const answer = await eventually('v3 answering', async () => {
      const a = await get(agent);
      return a.body === 'installed v3\n' ? a : undefined;
    }, 60_000, 250);
    assert.equal(answer.status, 200);
  } finally {
    await agent.close();
  }
  t.diagnostic(`gitd ${old.name} replaced; push of v3 after it: ok`);
});

it('day two in the gitd pod (kubectl exec ... -- dormant): config set and rollback are releases without a build, run, ps, scale, domains and logs work', async (t: TestContext) => {
  const inGitd = (...args: string[]) => kubectl(['exec', ...system, '-i', 'deployment/dormant-gitd', '-c', 'gitd', '--', 'dormant', ...args]);
  const started = performance.now();
  const set = await inGitd('config', 'set', app, 'GREETING=from-the-pod');
  assert.equal(set.code, 0, set.stderr);
  assert.doesNotMatch(set.stderr, /Building|npm ci/);
  t.diagnostic(`config set through kubectl exec: ${Math.round(performance.now() - started)} ms`);
  const released = /Released (v\d+) \((kinst-\d+)\)/.exec(set.stdout);
  assert.ok(released, set.stdout);
  const run = await inGitd('run', app, '--', 'sh', '-c', 'echo "greeting=$GREETING"; exit 5');
  assert.equal(run.code, 5, run.stderr);
  assert.equal(run.stdout, 'greeting=from-the-pod\n');
  assert.match((await inGitd('releases', app)).stdout, new RegExp(`${released[1]}\\b`));
  const rollback = await inGitd('rollback', app);
  assert.equal(rollback.code, 0, rollback.stderr);
  assert.match(rollback.stdout, /Rolled kinst back: v\d+ \(kinst-\d+\) serves/);
  const again = await inGitd('run', app, '--', 'sh', '-c', 'echo "greeting=$GREETING."');
  assert.equal(again.stdout, 'greeting=.\n', 'the rollback serves the release before the config change');
  const ps = await inGitd('ps', app, '-o', 'json');
  assert.equal(ps.code, 0, ps.stderr);
  assert.ok(Array.isArray(JSON.parse(ps.stdout)));
  const scaled = await inGitd('scale', app, 'min=0', 'max=3');
  assert.equal(scaled.code, 0, scaled.stderr);
  assert.equal((await kubectlOk(['get', 'apps.dormant.dev', app, '-o', 'jsonpath={.spec.autoscale.maxScale}'])).trim(), '3');
  assert.equal((await inGitd('domains', 'add', app, 'www.kinst.test')).code, 0);
  assert.match((await inGitd('domains', app)).stdout, /www\.kinst\.test/);
  assert.equal((await inGitd('domains', 'remove', app, 'www.kinst.test')).code, 0);
  const logs = await inGitd('logs', app, '--source', 'platform');
  assert.equal(logs.code, 0, logs.stderr);
  assert.match(logs.stdout, /\[dormant\] Release v\d+ \(kinst-\d+\) serves: Set GREETING/);
  assert.match(logs.stdout, /\[dormant\] Rollback to v\d+/);
  const agent = new Agent();
  try {
    assert.equal((await get(agent)).body, 'installed v3\n');
  } finally {
    await agent.close();
  }
});

it("HTTPS through the NodePort (30443): a certificate kept as a TLS Secret in dormant-system is served by SNI for its app's host", async () => {
  const ca = new TestCa();
  const name = `${app}-tls-install-test`;
  try {
    const pair = ca.issue([`${app}.localhost`]);
    const uid = (await kubectlOk(['get', 'apps.dormant.dev', app, '-o', 'jsonpath={.metadata.uid}'])).trim();
    // As dormant certs add or cert-manager's secretTemplate writes it: labelled with its app, annotated with the App's uid.
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name, namespace: 'dormant-system', labels: { 'dormant.dev/certificate': 'true', 'dormant.dev/app': app }, annotations: { 'dormant.dev/app-uid': uid, 'dormant.dev/certificate-id': 'user-install-test', 'dormant.dev/certificate-source': 'user' } },
      data: { 'tls.crt': Buffer.from(pair.certificatePem).toString('base64'), 'tls.key': Buffer.from(pair.privateKeyPem).toString('base64') },
    };
    await kubectlOk(['apply', '-f', '-'], JSON.stringify(secret));
    const https = () => runProgram('curl', ['-sS', '--max-time', '10', '--cacert', ca.caFile, '--resolve', `${app}.localhost:30443:127.0.0.1`, `https://${app}.localhost:30443/`]);
    const answer = await eventually('served over HTTPS by both activators', async () => {
      const tries = await Promise.all([https(), https(), https(), https()]);
      return tries.every((r) => r.code === 0) ? tries : undefined;
    }, 60_000, 500);
    for (const r of answer) assert.equal(r.stdout, 'installed v3\n', r.stderr);
    const unknown = await runProgram('curl', ['-sS', '--max-time', '10', '--cacert', ca.caFile, '--resolve', 'nobody.localhost:30443:127.0.0.1', 'https://nobody.localhost:30443/']);
    assert.notEqual(unknown.code, 0, 'a host without a certificate gets no handshake');
  } finally {
    await kubectl(['delete', 'secret', name, ...system, '--ignore-not-found']);
    ca.remove();
  }
});
