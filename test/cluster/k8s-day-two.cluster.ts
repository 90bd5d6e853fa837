// Day two on Kubernetes (issue 21), with `dormant up --runtime kubernetes` on the host
// against the test cluster: a config change and a rollback are releases of an earlier
// image (no build) rolled out as Deployments under a stream of requests, none failed; the
// config reaches the pods through the revision's Secret; a user's certificate is a TLS
// Secret served over HTTPS by SNI, and goes with its app; run is refused, saying why.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { presentedNames, TestCa } from '../../tls/test-support.js';
import { type DormantUp, runProgram, runWithResize, startDormant, WorkingCopy } from '../git-support.js';
import { eventually, getApp, kubeconfig, kubectl, kubectlOk } from './cluster-support.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const crds = join(repo, 'manifests', 'crds');
const app = 'kday';
let dormant: DormantUp;
let copy: WorkingCopy;
let ca: TestCa;
let httpsPort: number;

/** A Node app answering its version and a config var. */
const envApp = (version: string, status = 200): Record<string, string> => ({
  'package.json': JSON.stringify({ name: app, version: '1.0.0', scripts: { start: 'node server.js' } }),
  'server.js': `require('node:http').createServer((q, s) => { s.statusCode = ${status}; s.end('${version} greeting=' + (process.env.GREETING || '-') + '\\n'); }).listen(process.env.PORT);\n`,
});

async function answersWhile<T>(work: Promise<T>): Promise<{ result: T; answers: { status: number; body: string }[] }> {
  let working = true;
  const done = work.finally(() => {
    working = false;
  });
  const answers: { status: number; body: string }[] = [];
  while (working) {
    const answer = await getApp(dormant.httpPort, app).catch(() => ({ status: 0, body: '' }));
    answers.push({ status: answer.status, body: answer.body });
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { result: await done, answers };
}

before(async () => {
  await kubectlOk(['apply', '-k', crds]);
  await kubectlOk(['wait', '--for', 'condition=Established', 'crd/apps.dormant.dev', 'crd/revisions.dormant.dev', '--timeout', '60s']);
  await kubectl(['delete', 'apps.dormant.dev', app, '--ignore-not-found', '--wait=true']);
  await kubectl(['delete', 'deployments,revisions.dormant.dev,secrets', '-l', `dormant.dev/app=${app}`, '--wait=true']);
  ca = new TestCa();
  dormant = await startDormant(['--runtime', 'kubernetes', '--kubeconfig', kubeconfig, '--registry', '127.0.0.1:5000', '--https-port', '0'], { metrics: true });
  httpsPort = (JSON.parse(await readFile(join(dormant.stateDir, 'up.json'), 'utf8')) as { httpsPort: number }).httpsPort;
  // One pod kept, so that the releases are seen replacing a serving pod rather than waking one.
  await kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'dormant.dev/v1alpha1', kind: 'App', metadata: { name: app, namespace: 'default' }, spec: { autoscale: { minScale: 1 } } }));
  copy = await WorkingCopy.create(dormant.work, app, dormant.adminKey);
  await copy.commit(envApp('v1'));
  const pushed = await copy.push(dormant.remote(app));
  assert.equal(pushed.code, 0, pushed.stderr + dormant.logs());
});

after(async () => {
  await dormant?.stop();
  ca?.remove();
  await kubectl(['delete', 'apps.dormant.dev', app, '--ignore-not-found', '--wait=false']);
});

describe('config and rollback on Kubernetes', () => {
  it('config set releases the image that serves with the new value, without a build and without a failed request', async () => {
    assert.equal((await getApp(dormant.httpPort, app)).body, 'v1 greeting=-\n');
    const { result, answers } = await answersWhile(dormant.dormant('config', 'set', app, 'GREETING=hello'));
    assert.equal(result.code, 0, result.stderr + dormant.logs().slice(-3000));
    assert.doesNotMatch(result.stderr, /Building|npm ci/);
    assert.match(result.stdout, /Released v2 \(kday-00002\)/);
    assert.ok(answers.length > 0 && answers.every((a) => a.status === 200), `answers during the release: ${answers.map((a) => a.status).join(',')}`);
    await eventually('the new config answers', async () => ((await getApp(dormant.httpPort, app)).body === 'v1 greeting=hello\n' ? true : undefined), 30_000, 200);
    // The value reaches the pods through the revision's Secret, not the Deployment.
    const secret = JSON.parse(await kubectlOk(['get', 'secret', `${app}-00002`, '-o', 'json'])) as { data: Record<string, string> };
    assert.equal(Buffer.from(secret.data.GREETING ?? '', 'base64').toString(), 'hello');
    const deployment = await kubectlOk(['get', 'deployment', `${app}-00002`, '-o', 'json']);
    assert.doesNotMatch(deployment, /hello/);
    const images = (await kubectlOk(['get', 'deployments', '-l', `dormant.dev/app=${app}`, '-o', 'jsonpath={.items[*].spec.template.spec.containers[0].image}'])).split(' ');
    assert.equal(new Set(images).size, 1, `the release runs the image of v1: ${images.join(' ')}`);
  });

  it('after a deliberately broken deploy, rollback restores the old answers without a build, none failed', async () => {
    // It starts and accepts connections (a pod's readiness), and answers every request 500.
    await copy.commit(envApp('broken', 500));
    const broken = await copy.push(dormant.remote(app));
    assert.equal(broken.code, 0, broken.stderr);
    await eventually('the broken release answers', async () => ((await getApp(dormant.httpPort, app)).status === 500 ? true : undefined), 30_000, 200);
    const { result, answers } = await answersWhile(dormant.dormant('rollback', app, 'v1'));
    assert.equal(result.code, 0, result.stderr + dormant.logs().slice(-3000));
    assert.doesNotMatch(result.stderr, /Building|npm ci/);
    assert.ok(answers.length > 0);
    // Each answer is the broken release's or v1's: none from Dormant (502, 503) and none lost.
    assert.ok(
      answers.every((a) => (a.status === 500 && a.body === 'broken greeting=hello\n') || (a.status === 200 && a.body === 'v1 greeting=-\n')),
      `answers during the rollback: ${answers.map((a) => a.status).join(',')}`,
    );
    await eventually('v1 and its config answer', async () => ((await getApp(dormant.httpPort, app)).body === 'v1 greeting=-\n' ? true : undefined), 30_000, 200);
    const releases = JSON.parse((await dormant.dormant('releases', app, '-o', 'json')).stdout) as { spec: { change?: { kind: string; from?: string } } }[];
    assert.deepEqual({ kind: releases[0]?.spec.change?.kind, from: releases[0]?.spec.change?.from }, { kind: 'rollback', from: `${app}-00001` });
  });

  it('dormant run runs a pod of the serving release with its config: stdin in, stdout and stderr apart, its exit code out; the pod is gone after', async (t) => {
    const run = (input: string | undefined, ...argv: string[]) =>
      runProgram(process.execPath, [join(repo, 'bin', 'dormant.js'), 'run', '--state-dir', dormant.stateDir, app, ...(argv[0] === '-t' ? [] : ['--']), ...argv], input === undefined ? {} : { input });
    const started = performance.now();
    const result = await run('from stdin\n', 'echo "node_env=$NODE_ENV uid=$(id -u)"; cat; echo oops >&2; exit 3');
    t.diagnostic(`dormant run on Kubernetes, CLI start to exit: ${(performance.now() - started).toFixed(0)} ms`);
    assert.equal(result.code, 3, result.stderr);
    assert.equal(result.stdout, 'node_env=production uid=1000\nfrom stdin\n');
    assert.equal(result.stderr, 'oops\n');
    // argv as words, and a command that writes before anything could read: nothing is lost.
    const words = await run(undefined, 'node', '-e', 'console.log(process.argv.length, require("node:fs").existsSync("server.js"))');
    assert.equal(words.stdout, '1 true\n', words.stderr);
    assert.equal(words.code, 0);
    // -t: a terminal of its own in the pod, of the size the CLI says (80x24 when its own output is no terminal).
    const terminal = await run(undefined, '-t', '--', 'test -t 0 && test -t 1 && echo on-a-terminal; stty size');
    assert.equal(terminal.code, 0, terminal.stderr);
    assert.match(terminal.stdout, /^on-a-terminal\r?\n24 80\r?\n$/);
    await eventually('the run pods are deleted', async () => ((await kubectlOk(['get', 'pods', '-l', 'dormant.dev/run', '-o', 'name'])).trim() === '' ? true : undefined), 30_000, 200);
    // The run pods were never taken for replicas: the app answers as before.
    assert.equal((await getApp(dormant.httpPort, app)).body, 'v1 greeting=-\n');
  });
});

describe('a terminal on Kubernetes', () => {
  it("dormant run -t: the pod's terminal follows the CLI's when it is resized (the attach's resize channel; SIGWINCH to the process)", async () => {
    const resized = await runWithResize({ metricsPort: dormant.metricsPort, stateDir: dormant.stateDir, app, command: "trap 'echo winched' WINCH; stty size; sleep 4; stty size", size: '80x24', resizeTo: '132x40', resizeAfterMs: 1500 });
    assert.equal(resized.follows, true, 'dormant up says it follows resizes');
    assert.equal(resized.code, 0);
    assert.match(resized.stdout, /^24 80\r?\nwinched\r?\n40 132\r?\n$/, JSON.stringify(resized.stdout));
  });
});

describe('ps and platform events on Kubernetes', () => {
  it('dormant logs interleaves the platform\'s events (Events of the App) with the pods\' lines; --source platform keeps them', async () => {
    const events = await dormant.dormant('logs', app, '--source', 'platform');
    assert.equal(events.code, 0, events.stderr);
    assert.match(events.stdout, /\[dormant\] Deploy [0-9a-f]{7} from main by SHA256:\S+/);
    assert.match(events.stdout, /\[dormant\] Release v2 \(kday-00002\) serves: Set GREETING/);
    assert.match(events.stdout, /\[dormant\] Rollback to v1 by .+: releasing the build of kday-00001/);
    assert.match(events.stdout, /\[dormant\] Run "node -e /);
    // Scaling with the autoscaler's reason, and each pod's first answer (said by the process that writes status).
    assert.match(events.stdout, /\[dormant\] Scaling from 0 to 1 replica: .+/);
    assert.match(events.stdout, /\[dormant\] Pod kday-0000\d-\S+ of kday-0000\d ready \d+ ms after it was first seen/);
    const described = await kubectlOk(['get', 'events', '--field-selector', `involvedObject.kind=App,involvedObject.name=${app}`, '-o', 'jsonpath={.items[*].reason}']);
    assert.match(described, /DormantPlatform/);
    const all = await dormant.dormant('logs', app);
    assert.match(all.stdout, /\[dormant\] Release v2/);
    assert.doesNotMatch((await dormant.dormant('logs', app, '--source', 'app')).stdout, /\[dormant\]/);
  });

  it("dormant ps lists the app's pods as the runtime tracks them, never a run's pod", async () => {
    const listed = await dormant.dormant('ps', app, '-o', 'json');
    assert.equal(listed.code, 0, listed.stderr);
    const replicas = JSON.parse(listed.stdout) as { id: string; revision: string; release: string; state: string; memoryBytes: number | null }[];
    const pods = (await kubectlOk(['get', 'pods', '-l', `dormant.dev/app=${app},!dormant.dev/run`, '--field-selector', 'status.phase=Running', '-o', 'jsonpath={.items[*].metadata.name}'])).split(' ').filter((n) => n !== '');
    assert.ok(replicas.some((r) => r.state === 'ready' && pods.includes(r.id)), `ps: ${listed.stdout}; pods: ${pods.join(' ')}`);
    assert.ok(replicas.every((r) => !r.id.includes('-run-')));
    assert.equal(replicas.find((r) => r.state === 'ready')?.memoryBytes, null, 'no metrics-server: not given');
  });
});

describe('certificates on Kubernetes', () => {
  const presented = (servername: string) => presentedNames(httpsPort, servername);

  it('certs add keeps a TLS Secret, which the HTTPS listener serves for the app; certs remove takes it away', async () => {
    const pair = ca.issue([`${app}.localhost`]);
    const added = await dormant.dormant('certs', 'add', app, pair.certificateFile, pair.keyFile);
    assert.equal(added.code, 0, added.stderr);
    const secrets = JSON.parse(await kubectlOk(['get', 'secrets', '-l', `dormant.dev/certificate=true,dormant.dev/app=${app}`, '-o', 'json'])) as { items: { type: string; metadata: { name: string }; data: Record<string, string> }[] };
    assert.equal(secrets.items.length, 1);
    assert.equal(secrets.items[0]?.type, 'kubernetes.io/tls');
    assert.match(Buffer.from(secrets.items[0]?.data['tls.crt'] ?? '', 'base64').toString(), /BEGIN CERTIFICATE/);
    await eventually('served over HTTPS', async () => ((await presented(`${app}.localhost`)) === `DNS:${app}.localhost` ? true : undefined), 10_000, 100);
    const answer = await runProgram('curl', ['-sS', '--max-time', '20', '--cacert', ca.caFile, '--resolve', `${app}.localhost:${httpsPort}:127.0.0.1`, `https://${app}.localhost:${httpsPort}/`]);
    assert.equal(answer.stdout, 'v1 greeting=-\n', answer.stderr);
    const [listed] = (JSON.parse((await dormant.dormant('certs', app, '-o', 'json')).stdout) as { certificates: { name: string }[] }).certificates;
    assert.ok(listed);
    assert.equal((await dormant.dormant('certs', 'remove', app, listed.name)).code, 0);
    await eventually('no longer served', async () => ((await presented(`${app}.localhost`)).startsWith('error:') ? true : undefined), 10_000, 100);
    assert.equal((await kubectlOk(['get', 'secrets', '-l', `dormant.dev/certificate=true,dormant.dev/app=${app}`, '-o', 'name'])).trim(), '');
  });
});
