// The Deployment a Revision becomes, and the verdicts on its pods, without a cluster.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { type App, apiVersion, type Revision, validateAs } from '../../crds/index.js';
import { deploymentFor, drainScript, envSecretFor, rolloutFailure, viewOfPod } from './deployment-spec.js';

const app = validateAs('App', { apiVersion, kind: 'App', metadata: { name: 'hello', namespace: 'default', uid: '1b2c' }, spec: { run: { env: { GREETING: 'hi', PORT: '1' } } } });
const revision = (run: Record<string, unknown>, image: string | null = '127.0.0.1:5000/dormant/hello@sha256:abc', strategy = 'auto') =>
  validateAs('Revision', {
    apiVersion,
    kind: 'Revision',
    metadata: { name: 'hello-00002', namespace: 'default' },
    spec: { app: 'hello', commit: 'a'.repeat(40), strategy, run },
    ...(image === null ? {} : { status: { phase: 'Deploying', steps: [], image } }),
  });
const ok = <T>(result: { ok: boolean; object?: T }) => {
  assert.ok(result.ok);
  return result.object as T;
};

it('a revision becomes a Deployment of its image by digest, owned by the App, with what makes pods start fast and stop cleanly', () => {
  const deployment = deploymentFor(ok<App>(app), ok<Revision>(revision({ env: { GREETING: 'hi', PORT: '1' }, drainTimeout: '10s' })), 0);
  assert.equal(deployment.metadata?.name, 'hello-00002');
  assert.deepEqual(deployment.metadata?.ownerReferences, [{ apiVersion, kind: 'App', name: 'hello', uid: '1b2c', controller: true }]);
  assert.equal(deployment.spec?.replicas, 0);
  const pod = deployment.spec?.template.spec;
  assert.equal(pod?.enableServiceLinks, false);
  assert.equal(pod?.automountServiceAccountToken, false);
  assert.equal(pod?.shareProcessNamespace, true);
  assert.deepEqual(pod?.securityContext, { seccompProfile: { type: 'RuntimeDefault' }, runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 });
  assert.deepEqual(pod?.containers[0]?.securityContext, { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  assert.equal(pod?.terminationGracePeriodSeconds, 12, 'preStop pause plus the drain timeout');
  const container = pod?.containers[0];
  assert.equal(container?.image, '127.0.0.1:5000/dormant/hello@sha256:abc');
  assert.deepEqual(container?.env, [{ name: 'PORT', value: '8080' }], 'PORT is the container port, whatever spec.run.env says; no other value is in the Deployment');
  assert.deepEqual(container?.envFrom, [{ secretRef: { name: 'hello-00002' } }], 'the rest comes from the revision\'s Secret');
  const secret = envSecretFor(ok<App>(app), ok<Revision>(revision({ env: { GREETING: 'hi', PORT: '1' } })));
  assert.deepEqual(secret?.stringData, { GREETING: 'hi' });
  assert.deepEqual(secret?.metadata?.ownerReferences, [{ apiVersion, kind: 'App', name: 'hello', uid: '1b2c' }], 'deleted with the App');
  assert.equal(envSecretFor(ok<App>(app), ok<Revision>(revision({ env: { PORT: '1' } }))), undefined, 'no config, no Secret');
  assert.equal(deploymentFor(ok<App>(app), ok<Revision>(revision({})), 0).spec?.template.spec?.containers[0]?.envFrom, undefined);
  assert.deepEqual(container?.readinessProbe?.tcpSocket, { port: 8080 });
  assert.deepEqual(container?.lifecycle?.preStop?.exec?.command, ['/bin/sh', '-c', drainScript(8080, 10)], 'an auto-detected app (node:20-slim, a shell) waits for its connections to go');
  const fromDockerfile = deploymentFor(ok<App>(app), ok<Revision>(revision({}, '127.0.0.1:5000/dormant/hello@sha256:abc', 'dockerfile')), 0);
  assert.deepEqual(fromDockerfile.spec?.template.spec?.containers[0]?.lifecycle?.preStop, { sleep: { seconds: 2 } }, 'a Dockerfile image may have no shell: the plain pause');
  assert.deepEqual(fromDockerfile.spec?.template.spec?.containers[0]?.securityContext, { allowPrivilegeEscalation: false }, 'a Dockerfile image keeps the default capabilities');
  assert.deepEqual(fromDockerfile.spec?.template.spec?.securityContext, { seccompProfile: { type: 'RuntimeDefault' } }, 'and runs as its USER says');
  assert.deepEqual(deployment.spec?.selector.matchLabels, { 'dormant.dev/app': 'hello', 'dormant.dev/revision': 'hello-00002' });
});

it('spec.run.port and readinessPath shape the port and the probe; a revision without an image is refused', () => {
  const deployment = deploymentFor(ok<App>(app), ok<Revision>(revision({ port: 3000, readinessPath: '/healthz' })), 2);
  const container = deployment.spec?.template.spec?.containers[0];
  assert.equal(container?.ports?.[0]?.containerPort, 3000);
  assert.deepEqual(container?.readinessProbe?.httpGet, { path: '/healthz', port: 3000 });
  assert.throws(() => deploymentFor(ok<App>(app), ok<Revision>(revision({}, null)), 1), /has no image/);
});

const pod = (containerStatus: Record<string, unknown>, extra: Record<string, unknown> = {}): V1Pod =>
  ({ metadata: { name: 'hello-00002-x', labels: { 'dormant.dev/revision': 'hello-00002' }, ...extra }, status: { podIP: '10.244.0.9', containerStatuses: [containerStatus] } }) as unknown as V1Pod;

it('a rollout fails at once on a pod that cannot start, and waits on one that is starting', () => {
  assert.equal(rolloutFailure([viewOfPod(pod({ state: { waiting: { reason: 'ContainerCreating' } }, restartCount: 0 }))]), undefined);
  assert.match(rolloutFailure([viewOfPod(pod({ state: { waiting: { reason: 'ErrImagePull', message: 'not found' } }, restartCount: 0 }))]) ?? '', /ErrImagePull: not found/);
  // A kubelet that has not synced the revision's Secret yet retries (seen on the test cluster); a Secret that is missing does not come back.
  assert.equal(rolloutFailure([viewOfPod(pod({ state: { waiting: { reason: 'CreateContainerConfigError', message: 'failed to sync secret cache: timed out waiting for the condition' } }, restartCount: 0 }))]), undefined);
  assert.match(
    rolloutFailure([viewOfPod(pod({ state: { waiting: { reason: 'CreateContainerConfigError', message: 'secret "hello-00002" not found' } }, restartCount: 0 }))]) ?? '',
    /CreateContainerConfigError: secret "hello-00002" not found/,
  );
  assert.match(
    rolloutFailure([viewOfPod(pod({ state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 3 } }, restartCount: 2 }))]) ?? '',
    /CrashLoopBackOff \(last exit code 3\)/,
  );
  assert.match(rolloutFailure([viewOfPod(pod({ state: { running: {} }, lastState: { terminated: { exitCode: 1 } }, restartCount: 1 }))]) ?? '', /exited with code 1 and was restarted/);
  const terminating = viewOfPod(pod({ state: { running: {} }, restartCount: 0 }, { deletionTimestamp: new Date() }));
  assert.equal(terminating.terminating, true);
  assert.equal(terminating.ip, '10.244.0.9');
});

it('the drain script (run by /bin/sh here, on the /proc of this host) waits out the pause, then until the last connection to the port closes', async () => {
  const server = createServer((socket) => socket.on('end', () => socket.end()));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const client = connect(port, '127.0.0.1');
  await once(client, 'connect');
  const started = performance.now();
  const script = spawn('/bin/sh', ['-c', drainScript(port, 20)], { stdio: 'ignore' });
  const exited = once(script, 'exit').then(() => performance.now() - started);
  // Still open after the pause: the script keeps waiting.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  assert.equal(script.exitCode, null, 'still waiting while a connection is open');
  client.end();
  const tookMs = await exited;
  server.close();
  assert.ok(tookMs >= 3000 && tookMs < 4500, `returned soon after the connection closed (${tookMs.toFixed(0)} ms)`);
});

it("spec.run.resources become the container's requests and limits as written; none said, none set", () => {
  const limited = deploymentFor(ok<App>(app), ok<Revision>(revision({ resources: { requests: { cpu: '250m' }, limits: { memory: '64Mi', cpu: '1' } } })), 0);
  assert.deepEqual(limited.spec?.template.spec?.containers[0]?.resources, { requests: { cpu: '250m' }, limits: { memory: '64Mi', cpu: '1' } });
  const plain = deploymentFor(ok<App>(app), ok<Revision>(revision({})), 0);
  assert.equal(plain.spec?.template.spec?.containers[0]?.resources, undefined);
  // The flat form of earlier versions is still read: cpu was a request, memory a request and a limit.
  const flat = deploymentFor(ok<App>(app), ok<Revision>(revision({ resources: { cpu: '100m', memory: '64Mi' } })), 0);
  assert.deepEqual(flat.spec?.template.spec?.containers[0]?.resources, { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '64Mi' } });
  const mixed = deploymentFor(ok<App>(app), ok<Revision>(revision({ resources: { memory: '64Mi', limits: { memory: '128Mi' } } })), 0);
  assert.deepEqual(mixed.spec?.template.spec?.containers[0]?.resources, { requests: { memory: '64Mi' }, limits: { memory: '128Mi' } }, 'the new fields win');
});
