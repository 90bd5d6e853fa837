// The daemonless image writer against a real registry (Debian's docker-registry on
// loopback), with the result pulled back and run by real podman.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { buildErrors, layerImage, RegistryClient } from '../builder/index.js';
import { isDormantError } from '../errors/index.js';
import { fixtureApp, freePort, nodeApp, startDormant, WorkingCopy, waitForPort } from './git-support.js';

const run = promisify(execFile);
const podmanEnv = { ...process.env, CONTAINERS_CONF: join(homedir(), '.cache', 'dormant', 'containers.conf') };
const podman = (...args: string[]) => run('podman', args, { env: podmanEnv, maxBuffer: 16 * 1024 * 1024 });

let work: string;
let registryProcess: ChildProcess;
let registry: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'dormant-oci-'));
  const port = await freePort();
  registry = `127.0.0.1:${port}`;
  await writeFile(
    join(work, 'registry.yml'),
    `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${join(work, 'registry')}\n  delete:\n    enabled: true\nhttp:\n  addr: ${registry}\n`,
  );
  registryProcess = spawn('docker-registry', ['serve', join(work, 'registry.yml')], { stdio: 'ignore' });
  await waitForPort(port);
  // The base the writer layers onto: the bootstrapped node:20-slim, pushed to this registry.
  await podman('push', '--tls-verify=false', 'docker.io/library/node:20-slim', `${registry}/library/node:20-slim`);
});

after(async () => {
  if (registryProcess && registryProcess.exitCode === null) {
    registryProcess.kill();
    await once(registryProcess, 'exit');
  }
  await rm(work, { recursive: true, force: true });
});

it('layers a release folder onto node:20-slim, pushes it by digest, and podman pulls and runs it', async (t: TestContext) => {
  const release = join(work, 'release');
  await mkdir(release, { recursive: true });
  await writeFile(join(release, 'server.js'), "require('node:http').createServer((q, s) => s.end('layered by dormant\\n')).listen(process.env.PORT);\n");
  const started = performance.now();
  const options = {
    registry: new RegistryClient(registry),
    base: { repository: 'library/node', tag: '20-slim' },
    repository: 'dormant/layered',
    tag: 'layered-00001',
    layerDir: release,
    command: ['node', 'server.js'],
    env: { GREETING: 'hi' },
    now: new Date('2026-01-01T00:00:00Z'),
  };
  const image = await layerImage(options);
  t.diagnostic(`image written and pushed in ${(performance.now() - started).toFixed(0)} ms: ${image.reference}`);
  assert.match(image.reference, new RegExp(`^${registry}/dormant/layered@sha256:[0-9a-f]{64}$`));

  // The same folder gives the same image: the layer's times and owners are fixed.
  const again = await layerImage(options);
  assert.equal(again.digest, image.digest);

  await podman('pull', '--tls-verify=false', image.reference);
  const port = await freePort();
  const name = `dormant-oci-test-${port}`;
  await podman('run', '-d', '--rm', '--init', '--name', name, '--network', 'host', '-e', `PORT=${port}`, image.reference);
  try {
    await waitForPort(port, 20_000);
    const answer = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(await answer.text(), 'layered by dormant\n');
    const env = (await podman('exec', name, 'printenv', 'GREETING')).stdout.trim();
    assert.equal(env, 'hi');
  } finally {
    await podman('rm', '-f', '-t', '0', name).catch(() => undefined);
    await podman('rmi', '-f', image.reference).catch(() => undefined);
  }
});

it('an image from scratch holds only the folder: one layer, an OCI manifest, a linux/amd64 config', async () => {
  const folder = join(work, 'scratch');
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'static-binary'), 'not really a binary\n');
  const client = new RegistryClient(registry);
  const image = await layerImage({ registry: client, repository: 'dormant/scratch', tag: '1', layerDir: folder, command: ['/app/static-binary'], now: new Date(0) });
  const { manifest, mediaType } = await client.manifest('dormant/scratch', '1');
  assert.equal(mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(manifest.layers.length, 1);
  const config = JSON.parse((await client.blob('dormant/scratch', manifest.config.digest)).toString('utf8')) as { os: string; architecture: string; config: { Cmd: string[] }; rootfs: { diff_ids: string[] } };
  assert.deepEqual([config.os, config.architecture, config.config.Cmd, config.rootfs.diff_ids.length], ['linux', 'amd64', ['/app/static-binary'], 1]);
  // podman accepts it as an image.
  await podman('pull', '--tls-verify=false', image.reference);
  await podman('rmi', '-f', image.reference);
});

it('a base missing from the registry, and an unreachable registry, say what to do', async () => {
  const missing = await layerImage({
    registry: new RegistryClient(registry),
    base: { repository: 'library/nothing', tag: '1' },
    repository: 'dormant/x',
    tag: 'x',
    layerDir: work,
    command: ['true'],
    now: new Date(),
  }).catch((error: unknown) => error);
  assert.ok(isDormantError(missing, 'BUILD_REGISTRY_MISSING_BASE'), String(missing));
  assert.match((missing as Error).message, /the base image library\/nothing:1 is not in the registry 127\.0\.0\.1:\d+; push the bases there first/);
  const closedPort = await freePort();
  const unreachable = await new RegistryClient(`127.0.0.1:${closedPort}`).manifest('library/node', '20-slim').catch((error: unknown) => error);
  assert.ok(isDormantError(unreachable, buildErrors.registryUnreachable({ registry: '', reason: '' }).code), String(unreachable));
});

it('git push with dormant up --registry: the revision also becomes an image in the registry, which podman pulls and runs', async (t: TestContext) => {
  const d = await startDormant(['--registry', registry]);
  try {
    const copy = await WorkingCopy.create(d.work, 'auto', d.adminKey);
    await copy.commit(nodeApp('auto v1'));
    const started = performance.now();
    const pushed = await copy.push(d.remote('auto'));
    assert.equal(pushed.code, 0, pushed.stderr);
    const reference = new RegExp(`remote: -----> Image (${registry.replace(/\./g, '\\.')}/dormant/auto@sha256:[0-9a-f]{64})`).exec(pushed.stderr)?.[1];
    assert.ok(reference, pushed.stderr);
    t.diagnostic(`push with the image step: ${(performance.now() - started).toFixed(0)} ms (${/Deployed [^(]+\(([^)]*)\)/.exec(pushed.stderr)?.[1]})`);
    const revisions = JSON.parse((await d.dormant('revisions', 'auto', '-o', 'json')).stdout) as { status?: { image?: string } }[];
    assert.equal(revisions[0]?.status?.image, reference);
    assert.equal((await d.get('auto')).body, 'auto v1\n', 'the app itself still runs as a process here');

    await podman('pull', '--tls-verify=false', reference);
    const port = await freePort();
    const name = `dormant-auto-test-${port}`;
    await podman('run', '-d', '--rm', '--init', '--name', name, '--network', 'host', '-e', `PORT=${port}`, reference);
    try {
      await waitForPort(port, 20_000);
      assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'auto v1\n');
    } finally {
      await podman('rm', '-f', '-t', '0', name).catch(() => undefined);
      await podman('rmi', '-f', reference).catch(() => undefined);
    }

    // A Dockerfile app: podman's image is pushed as built, and referenced by digest too.
    const boxed = await WorkingCopy.create(d.work, 'boxed', d.adminKey);
    await boxed.commit({ Dockerfile: 'FROM node:20-slim\nCMD ["node", "-e", "require(\'node:http\').createServer((q, s) => s.end(\'boxed\\\\n\')).listen(process.env.PORT)"]\n' });
    const boxedPush = await boxed.push(d.remote('boxed'));
    assert.equal(boxedPush.code, 0, boxedPush.stderr);
    assert.match(boxedPush.stderr, new RegExp(`remote: -----> Image ${registry.replace(/\./g, '\\.')}/dormant/boxed@sha256:[0-9a-f]{64}`));
    assert.equal((await d.get('boxed')).body, 'boxed\n');
  } finally {
    await d.stop();
  }
});

it('an app that asks for a Node the stack lacks: its cluster image has that Node as a layer at /opt/node, first on PATH', async () => {
  const d = await startDormant(['--registry', registry]);
  try {
    const copy = await WorkingCopy.create(d.work, 'node22', d.adminKey);
    await copy.commit({
      'package.json': JSON.stringify({ name: 'node22', version: '1.0.0', engines: { node: '22.x' }, scripts: { start: 'node server.js' } }),
      'server.js': "require('node:http').createServer((q, s) => s.end(process.version + ' ' + process.execPath + '\\n')).listen(process.env.PORT);\n",
    });
    const pushed = await copy.push(d.remote('node22'));
    assert.equal(pushed.code, 0, pushed.stderr);
    const reference = new RegExp(`remote: -----> Image (${registry.replace(/\./g, '\\.')}/dormant/node22@sha256:[0-9a-f]{64})`).exec(pushed.stderr)?.[1];
    assert.ok(reference, pushed.stderr);
    const local = (await d.get('node22')).body;
    assert.match(local, /^v22\.\S+ \/opt\/node\/bin\/node\n$/);

    await podman('pull', '--tls-verify=false', reference);
    const port = await freePort();
    const name = `dormant-node22-test-${port}`;
    await podman('run', '-d', '--rm', '--init', '--name', name, '--network', 'host', '-e', `PORT=${port}`, reference);
    try {
      await waitForPort(port, 20_000);
      assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), local, 'the cluster image runs the same Node as the local replica');
    } finally {
      await podman('rm', '-f', '-t', '0', name).catch(() => undefined);
      await podman('rmi', '-f', reference).catch(() => undefined);
    }
  } finally {
    await d.stop();
  }
});

it('a Python and a Go app: their cluster images are layered onto their stacks (pushed under Dormant’s name with the image id), and podman runs them as the cluster would', async () => {
  const d = await startDormant(['--registry', registry]);
  try {
    for (const [app, fixture, expected] of [
      ['pyimg', 'flask-hello', /^<p>Hello from Flask!<\/p>$/],
      ['goimg', 'go-cmd-server', /^Hello from Go \(go1\.24\.\d+, instance 36 chars\)\n$/],
    ] as const) {
      const copy = await WorkingCopy.create(d.work, app, d.adminKey);
      await copy.commit(await fixtureApp(fixture));
      const pushed = await copy.push(d.remote(app));
      assert.equal(pushed.code, 0, pushed.stderr);
      // The stack goes to this fresh registry once, under Dormant's name with its image id.
      assert.match(pushed.stderr, new RegExp(`pushing docker\\.io/library/\\S+ to ${registry.replace(/\./g, '\\.')}/dormant/stacks/(python:3\\.15-slim|debian:bookworm-slim)-[0-9a-f]{12} \\(once\\)`));
      const reference = new RegExp(`remote: -----> Image (${registry.replace(/\./g, '\\.')}/dormant/${app}@sha256:[0-9a-f]{64})`).exec(pushed.stderr)?.[1];
      assert.ok(reference, pushed.stderr);
      await podman('pull', '--tls-verify=false', reference);
      const port = await freePort();
      const name = `dormant-${app}-test-${port}`;
      // As a pod runs it: the image's user (1000) and command, the release at /app.
      await podman('run', '-d', '--rm', '--init', '--name', name, '--network', 'host', '-e', `PORT=${port}`, reference);
      try {
        await waitForPort(port, 20_000);
        assert.match(await (await fetch(`http://127.0.0.1:${port}/`)).text(), expected);
      } finally {
        await podman('rm', '-f', '-t', '0', name).catch(() => undefined);
        await podman('rmi', '-f', reference).catch(() => undefined);
      }
    }
  } finally {
    await d.stop();
  }
});
