// cert-manager's Certificates on Kubernetes (issue 21): with `dormant up --cert-manager-issuer`,
// an app's automatic certificates (certs auto:enable) are cert-manager Certificates, one per
// host it holds, whose Secrets carry Dormant's marks, so the HTTPS listener serves them.
// Against the test cluster with cert-manager's own controllers (hack/cert-manager.sh builds
// them from cert-manager's Go module) and its CRDs, issuing with a CA ClusterIssuer of the
// test's: what is served is checked with curl --cacert against that CA.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pebbleConfig, presentedNames, TestCa } from '../../tls/test-support.js';
import { type DormantUp, freePort, runProgram, startDormant, waitForPort, WorkingCopy } from '../git-support.js';
import { clusterImages, eventually, getApp, kubeconfig, kubectl, kubectlOk } from './cluster-support.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const app = 'kcm';
const issuer = 'dormant-test-ca';
const acmeIssuer = 'dormant-test-acme';
let certManagerDir: string;
let controller: ChildProcess | undefined;
let controllerOutput = '';
/** pebble, its DNS helper and a TCP forward: stopped by PID after. */
const helpers: ChildProcess[] = [];
let helperOutput = '';
let pebbleDir: string;
const ports = { dns: 0, dnsManagement: 0, acme: 0, acmeManagement: 0 };

function startHelper(program: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(program, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) stream?.on('data', (chunk: Buffer) => {
    helperOutput = (helperOutput + chunk.toString()).slice(-20_000);
  });
  helpers.push(child);
  return child;
}
let dormant: DormantUp;
let ca: TestCa;
let httpsPort: number;

const presented = (servername: string) => presentedNames(httpsPort, servername);

interface CertificateObject {
  metadata: { name: string; namespace: string; labels: Record<string, string>; ownerReferences?: unknown[] };
  spec: { secretName: string; dnsNames: string[]; issuerRef: { kind: string; name: string }; secretTemplate: { labels: Record<string, string>; annotations: Record<string, string> } };
  status?: { conditions?: { type: string; status: string; message?: string }[] };
}

const certificatesOf = async (name: string): Promise<CertificateObject[]> =>
  (JSON.parse(await kubectlOk(['get', 'certificates.cert-manager.io', '-n', 'default', '-l', `dormant.dev/app=${name}`, '-o', 'json'])) as { items: CertificateObject[] }).items;

before(async () => {
  const built = await runProgram('bash', [join(repo, 'hack', 'cert-manager.sh')]);
  assert.equal(built.code, 0, built.stderr);
  certManagerDir = built.stdout.trim();
  // Server-side: the issuers' CRDs are larger than the annotation a client-side apply keeps.
  await kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', join(certManagerDir, 'crds')]);
  await kubectlOk(['wait', '--for', 'condition=Established', 'crd/certificates.cert-manager.io', 'crd/clusterissuers.cert-manager.io', 'crd/certificaterequests.cert-manager.io', '--timeout', '60s']);
  await kubectlOk(['apply', '-k', join(repo, 'manifests', 'crds')]);
  await kubectl(['delete', 'apps.dormant.dev', app, '--ignore-not-found', '--wait=true']);
  // Apart: a kind kubectl cannot map (a CRD just made again) would fail the whole command.
  await kubectlOk(['delete', 'deployments,revisions.dormant.dev,secrets', '-l', `dormant.dev/app=${app}`, '--wait=true']);
  await kubectl(['delete', 'certificates.cert-manager.io', '-l', `dormant.dev/app=${app}`, '--wait=true']);
  ca = new TestCa();
  // A namespace left by an earlier run is gone first (one still terminating takes no new Secret).
  await kubectl(['delete', 'namespace', 'cert-manager', '--ignore-not-found', '--wait=true', '--timeout=120s']);
  await kubectlOk(['create', 'namespace', 'cert-manager']);
  await kubectlOk(['create', 'secret', 'tls', issuer, '-n', 'cert-manager', '--cert', ca.caFile, '--key', join(ca.dir, 'ca.key')]);
  await kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', metadata: { name: issuer }, spec: { ca: { secretName: issuer } } }));
  // DNS for every name: 127.0.0.1, for pebble's validation and cert-manager's HTTP-01 self-check alike.
  pebbleDir = execFileSync('bash', [join(repo, 'hack', 'pebble.sh')], { encoding: 'utf8' }).trim().split('\n').at(-1) ?? '';
  for (const name of Object.keys(ports) as (keyof typeof ports)[]) ports[name] = await freePort();
  startHelper(join(pebbleDir, 'pebble-challtestsrv'), ['-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', '-dnsserver', `127.0.0.1:${ports.dns}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-doh', '', '-management', `127.0.0.1:${ports.dnsManagement}`]);
  await waitForPort(ports.dns);
  controller = spawn(
    join(certManagerDir, 'cert-manager-controller'),
    ['--kubeconfig', kubeconfig, '--cluster-resource-namespace', 'cert-manager', '--acme-http01-solver-nameservers', `127.0.0.1:${ports.dns}`, '--acme-http01-solver-image', clusterImages().pause],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  for (const stream of [controller.stdout, controller.stderr]) stream?.on('data', (chunk: Buffer) => {
    controllerOutput = (controllerOutput + chunk.toString()).slice(-20_000);
  });
  await eventually('the ClusterIssuer is ready', async () => {
    const ready = await kubectl(['get', 'clusterissuer', issuer, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
    return ready.stdout === 'True' ? true : undefined;
  }, 60_000, 500).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}\ncert-manager said:\n${controllerOutput}`);
  });
  dormant = await startDormant(['--runtime', 'kubernetes', '--kubeconfig', kubeconfig, '--registry', '127.0.0.1:5000', '--https-port', '0', '--cert-manager-issuer', issuer], { metrics: true });
  httpsPort = (JSON.parse(await readFile(join(dormant.stateDir, 'up.json'), 'utf8')) as { httpsPort: number }).httpsPort;
  const copy = await WorkingCopy.create(dormant.work, app, dormant.adminKey);
  await copy.commit({
    'package.json': JSON.stringify({ name: app, version: '1.0.0', scripts: { start: 'node server.js' } }),
    'server.js': "require('node:http').createServer((q, s) => s.end('kcm ' + (q.headers['x-forwarded-proto'] || '-') + '\\n')).listen(process.env.PORT);\n",
  });
  const pushed = await copy.push(dormant.remote(app));
  assert.equal(pushed.code, 0, pushed.stderr + dormant.logs());
});

after(async () => {
  await dormant?.stop();
  for (const child of [...helpers, ...(controller ? [controller] : [])]) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }
  ca?.remove();
  await kubectl(['delete', 'apps.dormant.dev', app, '--ignore-not-found', '--wait=true', '--timeout=60s']);
  await kubectl(['delete', 'deployments,revisions.dormant.dev,secrets', '-l', `dormant.dev/app=${app}`, '--ignore-not-found', '--wait=true', '--timeout=60s']);
  await kubectl(['delete', 'clusterissuer', issuer, acmeIssuer, '--ignore-not-found']);
  await kubectl(['delete', 'apps.dormant.dev', 'kacme', '--ignore-not-found', '--wait=true', '--timeout=60s']);
  await kubectl(['delete', 'deployments,revisions.dormant.dev,secrets', '-l', 'dormant.dev/app=kacme', '--ignore-not-found', '--wait=true', '--timeout=60s']);
  await kubectl(['delete', 'namespace', 'cert-manager', '--ignore-not-found', '--wait=true', '--timeout=120s']);
});

describe("cert-manager's Certificates", () => {
  it("certs auto:enable makes a Certificate per host the app holds; cert-manager's Secret is served over HTTPS by SNI", async (t) => {
    const first = await getApp(dormant.httpPort, app);
    assert.equal(first.body, 'kcm http\n', dormant.logs().slice(-4000));
    assert.deepEqual(await certificatesOf(app), [], 'none before the app asks');
    const started = performance.now();
    const enabled = await dormant.dormant('certs', 'auto:enable', app);
    assert.equal(enabled.code, 0, enabled.stderr);
    assert.match(enabled.stdout, new RegExp(`Automatic certificates are on for ${app}: cert-manager's ClusterIssuer ${issuer} makes them for ${app}\\.localhost`));
    const [certificate] = await eventually('a Certificate for the app', async () => {
      const found = await certificatesOf(app);
      return found.length > 0 ? found : undefined;
    }, 30_000, 200);
    assert.ok(certificate);
    assert.deepEqual(certificate.spec.dnsNames, [`${app}.localhost`]);
    assert.deepEqual(certificate.spec.issuerRef, { group: 'cert-manager.io', kind: 'ClusterIssuer', name: issuer });
    assert.equal(certificate.spec.secretName, certificate.metadata.name);
    assert.equal(certificate.spec.secretTemplate.labels['dormant.dev/certificate'], 'true');
    const uid = (JSON.parse(await kubectlOk(['get', 'apps.dormant.dev', app, '-o', 'json'])) as { metadata: { uid: string } }).metadata.uid;
    assert.equal(certificate.spec.secretTemplate.annotations['dormant.dev/app-uid'], uid, "the App's uid, as the listener checks");
    assert.equal(certificate.metadata.ownerReferences, undefined, 'Dormant removes it (with its Secret), not the garbage collector');

    // cert-manager issues it into the Secret, which the HTTPS listener serves for the app's name.
    await eventually('cert-manager issued it', async () => {
      const [current] = await certificatesOf(app);
      return current?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
    }, 90_000, 500).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\ncert-manager said:\n${controllerOutput.slice(-5000)}`);
    });
    const secret = JSON.parse(await kubectlOk(['get', 'secret', certificate.spec.secretName, '-o', 'json'])) as { type: string; metadata: { labels: Record<string, string> } };
    assert.equal(secret.type, 'kubernetes.io/tls');
    assert.equal(secret.metadata.labels['dormant.dev/app'], app);
    await eventually('served over HTTPS', async () => ((await presented(`${app}.localhost`)) === `DNS:${app}.localhost` ? true : undefined), 20_000, 200);
    t.diagnostic(`certs auto:enable to served over HTTPS: ${Math.round(performance.now() - started)} ms`);
    const answer = await runProgram('curl', ['-sS', '--max-time', '20', '--cacert', ca.caFile, '--resolve', `${app}.localhost:${httpsPort}:127.0.0.1`, `https://${app}.localhost:${httpsPort}/`]);
    assert.equal(answer.stdout, 'kcm https\n', answer.stderr);
    const listed = JSON.parse((await dormant.dormant('certs', app, '-o', 'json')).stdout) as { certificates: { source: string; hosts: string[] }[] };
    assert.deepEqual(listed.certificates.map((c) => [c.source, c.hosts]), [['acme', [`${app}.localhost`]]]);
    const events = await dormant.dormant('logs', app, '--source', 'platform');
    assert.match(events.stdout, new RegExp(`TLS certificate for ${app}\\.localhost requested from cert-manager \\(ClusterIssuer ${issuer}\\)`));
  });

  it('a domain added gets its own Certificate, removed it goes with its Secret; after auto:disable, what was issued is served until removed', async () => {
    const added = await dormant.dormant('domains', 'add', app, 'www.kcm.test');
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, new RegExp(`Added www\\.kcm\\.test to ${app}: .+ \\(cert-manager's ClusterIssuer ${issuer} makes its certificate\\)`));
    await eventually('a Certificate for the new host', async () => ((await certificatesOf(app)).some((c) => c.spec.dnsNames[0] === 'www.kcm.test') ? true : undefined), 30_000, 200);
    await eventually('served for the new host', async () => ((await presented('www.kcm.test')) === 'DNS:www.kcm.test' ? true : undefined), 90_000, 500);
    const www = (await certificatesOf(app)).find((c) => c.spec.dnsNames[0] === 'www.kcm.test');
    assert.ok(www);
    assert.equal((await dormant.dormant('domains', 'remove', app, 'www.kcm.test')).code, 0);
    await eventually('its Certificate and Secret gone', async () => {
      const left = await kubectl(['get', `certificates.cert-manager.io/${www.metadata.name}`, `secret/${www.spec.secretName}`, '--ignore-not-found', '-o', 'name']);
      return left.stdout.trim() === '' ? true : undefined;
    }, 30_000, 200);
    assert.equal((await certificatesOf(app)).length, 1, "the app's own address keeps its Certificate");

    assert.equal((await dormant.dormant('certs', 'auto:disable', app)).code, 0);
    await eventually('no Certificate left', async () => ((await certificatesOf(app)).length === 0 ? true : undefined), 30_000, 200);
    assert.equal(await presented(`${app}.localhost`), `DNS:${app}.localhost`, 'not renewed, still served');
    const [kept] = (JSON.parse((await dormant.dormant('certs', app, '-o', 'json')).stdout) as { certificates: { name: string }[] }).certificates;
    assert.ok(kept);
    assert.equal((await dormant.dormant('certs', 'remove', app, kept.name)).code, 0);
    await eventually('no longer served', async () => ((await presented(`${app}.localhost`)).startsWith('error:') ? true : undefined), 30_000, 200);
    assert.equal((await kubectlOk(['get', 'secrets', '-l', `dormant.dev/certificate=true,dormant.dev/app=${app}`, '-o', 'name'])).trim(), '');
  });

  it('a Certificate deleted by hand is made again; one Dormant did not make is left alone', async () => {
    assert.equal((await dormant.dormant('certs', 'auto:enable', app)).code, 0);
    const [first] = await eventually('a Certificate', async () => {
      const found = await certificatesOf(app);
      return found.length > 0 ? found : undefined;
    }, 30_000, 200);
    assert.ok(first);
    // Somebody else's Certificate in the same namespace, without Dormant's label.
    await kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'not-dormants', namespace: 'default', labels: { 'dormant.dev/app': app } }, spec: { secretName: 'not-dormants', dnsNames: ['other.test'], issuerRef: { kind: 'ClusterIssuer', name: issuer } } }));
    await kubectlOk(['delete', 'certificates.cert-manager.io', first.metadata.name]);
    await eventually('made again', async () => ((await certificatesOf(app)).some((c) => c.metadata.name === first.metadata.name) ? true : undefined), 30_000, 200);
    assert.ok((await certificatesOf(app)).some((c) => c.metadata.name === 'not-dormants'), 'not removed');
    await kubectl(['delete', 'certificates.cert-manager.io/not-dormants', 'secret/not-dormants', '--ignore-not-found']);
    // A hand edit of what Dormant set is undone at the next pass (here: the next change of the app).
    await kubectlOk(['patch', 'certificates.cert-manager.io', first.metadata.name, '--type', 'merge', '-p', JSON.stringify({ spec: { dnsNames: ['taken.example.com'] } })]);
    assert.equal((await dormant.dormant('domains', 'add', app, 'two.kcm.test')).code, 0);
    await eventually('the edit undone', async () => ((await certificatesOf(app)).find((c) => c.metadata.name === first.metadata.name)?.spec.dnsNames[0] === `${app}.localhost` ? true : undefined), 30_000, 200);
  });

  it('an App deleted with kubectl takes its Certificates and their Secrets with it', async () => {
    await eventually('its certificates issued', async () => ((await kubectlOk(['get', 'secrets', '-l', `dormant.dev/certificate=true,dormant.dev/app=${app}`, '-o', 'name'])).trim().split('\n').length >= 2 ? true : undefined), 90_000, 500);
    await kubectlOk(['delete', 'apps.dormant.dev', app, '--wait=true']);
    await eventually('no Certificate left', async () => ((await certificatesOf(app)).length === 0 ? true : undefined), 30_000, 200);
    await eventually('no Secret left', async () => ((await kubectlOk(['get', 'secrets', '-l', `dormant.dev/certificate=true,dormant.dev/app=${app}`, '-o', 'name'])).trim() === '' ? true : undefined), 30_000, 200);
  });

  it("an ACME ClusterIssuer with an HTTP-01 solver: the activator answers cert-manager's Challenges, pebble issues, and HTTPS serves it", async (t) => {
    // This Dormant names the ACME issuer (two Dormants would each keep the Certificates their own way).
    await dormant.stop();
    dormant = await startDormant(['--runtime', 'kubernetes', '--kubeconfig', kubeconfig, '--registry', '127.0.0.1:5000', '--https-port', '0', '--domain', 'apps.test', '--cert-manager-issuer', acmeIssuer], { metrics: true });
    httpsPort = (JSON.parse(await readFile(join(dormant.stateDir, 'up.json'), 'utf8')) as { httpsPort: number }).httpsPort;
    // pebble validates at the activator's HTTP port; cert-manager's self-check asks port 80, forwarded to it.
    const config = join(dormant.work, 'pebble.json');
    await writeFile(config, pebbleConfig({ pebbleDir, acmePort: ports.acme, managementPort: ports.acmeManagement, httpPort: dormant.httpPort, tlsPort: await freePort() }));
    startHelper(join(pebbleDir, 'pebble'), ['-config', config, '-dnsserver', `127.0.0.1:${ports.dns}`], { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' });
    startHelper(process.execPath, [join(repo, 'hack', 'cluster', 'tcp-forward.mjs'), '127.0.0.1:80', `127.0.0.1:${dormant.httpPort}`]);
    await waitForPort(ports.acme);
    await waitForPort(80);
    const minica = await readFile(join(pebbleDir, 'minica.pem'));
    await kubectlOk(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'cert-manager.io/v1',
      kind: 'ClusterIssuer',
      metadata: { name: acmeIssuer },
      spec: { acme: { server: `https://127.0.0.1:${ports.acme}/dir`, caBundle: minica.toString('base64'), privateKeySecretRef: { name: `${acmeIssuer}-account` }, solvers: [{ http01: { ingress: { ingressClassName: 'dormant' } } }] } },
    }));
    const said = () => `\ncert-manager said:\n${controllerOutput.slice(-4000)}\npebble said:\n${helperOutput.slice(-3000)}\ndormant up said:\n${dormant.logs().slice(-3000)}`;
    await eventually('the ACME account registered', async () => ((await kubectl(['get', 'clusterissuer', acmeIssuer, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])).stdout === 'True' ? true : undefined), 60_000, 500).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}${said()}`);
    });
    const copy = await WorkingCopy.create(dormant.work, 'kacme', dormant.adminKey);
    await copy.commit({
      'package.json': JSON.stringify({ name: 'kacme', version: '1.0.0', scripts: { start: 'node server.js' } }),
      'server.js': "require('node:http').createServer((q, s) => s.end('kacme ' + (q.headers['x-forwarded-proto'] || '-') + '\\n')).listen(process.env.PORT);\n",
    });
    const pushed = await copy.push(dormant.remote('kacme'));
    assert.equal(pushed.code, 0, pushed.stderr);
    const started = performance.now();
    assert.equal((await dormant.dormant('certs', 'auto:enable', 'kacme')).code, 0);
    await eventually('pebble issued it through cert-manager', async () => ((await presented('kacme.apps.test')) === 'DNS:kacme.apps.test' ? true : undefined), 120_000, 500).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}${said()}`);
    });
    t.diagnostic(`certs auto:enable to served, by ACME HTTP-01 through cert-manager and pebble: ${Math.round(performance.now() - started)} ms`);
    assert.match(dormant.logs(), /answering cert-manager's HTTP-01 challenge/);
    // pebble makes a new root each time it starts: fetched from its management port, trusting the CA of its own API certificate.
    const root = await runProgram('curl', ['-sS', '--cacert', join(pebbleDir, 'minica.pem'), `https://127.0.0.1:${ports.acmeManagement}/roots/0`]);
    assert.match(root.stdout, /BEGIN CERTIFICATE/, root.stderr);
    const rootFile = join(dormant.work, 'pebble-root.pem');
    await writeFile(rootFile, root.stdout);
    const answer = await runProgram('curl', ['-sS', '--max-time', '20', '--cacert', rootFile, '--resolve', `kacme.apps.test:${httpsPort}:127.0.0.1`, `https://kacme.apps.test:${httpsPort}/`]);
    assert.equal(answer.stdout, 'kacme https\n', answer.stderr);
  });

  it('without cert-manager installed, dormant up --cert-manager-issuer refuses to start, saying what to do', async () => {
    await dormant.stop();
    await kubectlOk(['delete', 'crd', 'certificates.cert-manager.io', '--wait=true']);
    await assert.rejects(
      startDormant(['--runtime', 'kubernetes', '--kubeconfig', kubeconfig, '--registry', '127.0.0.1:5000', '--cert-manager-issuer', issuer]),
      /RUNTIME_CERT_MANAGER_MISSING.*the API has no certificates\.cert-manager\.io \(cert-manager's CRDs are not installed\); install cert-manager/s,
    );
  });
});
