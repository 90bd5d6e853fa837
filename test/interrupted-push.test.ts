// kill -9 of a real `dormant up` in the middle of a push (real git over ssh): every process
// the push started dies with it, grandchildren that left for their own session too, and so
// do the replicas and what they forked; the next start marks the push Failed (Interrupted),
// removes its release folder, and the revision deployed before still serves.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { commandLine, killWhere, killWithEnv, processesByCommandLine, processesWhere, processesWithEnv, untilNoneWhere, untilNoneWithEnv } from '../lifetime/test-support.js';
import { freePort, type RunResult, runProgram, spawnUp, sshKey, type UpProcess, WorkingCopy } from './git-support.js';

const bin = fileURLToPath(new URL('../bin/dormant.js', import.meta.url));
/** Every process a build or hook starts inherits Dormant's environment, this variable too. */
const markName = 'DORMANT_TEST_PUSH';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** `dormant up` on a state folder and given ports, marked; resolves once it is up. */
async function startUp(stateDir: string, ports: { http: number; ssh: number }, mark: string): Promise<UpProcess> {
  const up = spawnUp(['--state-dir', stateDir, '--http-port', String(ports.http), '--ssh-port', String(ports.ssh), '--metrics-port', '0'], {
    env: { ...process.env, [markName]: mark },
  });
  cleanups.push(() => {
    if (up.child.exitCode === null && up.child.signalCode === null) up.child.kill('SIGKILL');
  });
  await up.ready;
  return up;
}

function get(httpPort: number, app: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: httpPort, path: '/', headers: { host: `${app}.localhost` }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A port that a build step or hook connects to once it has started its processes: the test
 * waits for that connection, the event itself, instead of polling for a file.
 */
async function startedSignal(what: string): Promise<{ port: number; arrived: () => Promise<void> }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => server.close());
  // Listened for from the start, so that a connection before arrived() is called counts too.
  const connected = once(server, 'connection') as Promise<[Socket]>;
  const timeoutMs = 60_000;
  const arrived = async () => {
    const deadline = AbortSignal.timeout(timeoutMs);
    const [socket] = await Promise.race([connected, once(deadline, 'abort').then(() => assert.fail(`${what}: not within ${timeoutMs} ms`))]);
    socket.destroy();
  };
  return { port: (server.address() as AddressInfo).port, arrived };
}

/** A Node app that answers with its version and, once started, forks a process into its own session. */
const forkingApp = (version: string): Record<string, string> => ({
  'package.json': JSON.stringify({ name: 'app', version: '1.0.0', scripts: { start: 'node server.js' } }),
  'server.js': [
    "require('node:child_process').spawn('sleep', ['311'], { detached: true, stdio: 'ignore' }).unref();",
    `require('node:http').createServer((q, s) => s.end('${version}\\n')).listen(process.env.PORT);`,
    '',
  ].join('\n'),
});

/**
 * Long-running work for a build step or a hook: a grandchild in the same process group, one
 * in its own session (setsid), then a connection to the test's port that says so, then a long wait.
 * Its processes carry the mark (builds and hooks get none of Dormant's environment).
 */
const slowScript = (signalPort: number, mark: string) => `#!/bin/sh
export ${markName}=${mark}
sleep 301 &
setsid sleep 302 </dev/null >/dev/null 2>&1 &
node -e "require('node:net').connect(${signalPort}, '127.0.0.1', function () { this.end(); })"
sleep 303
`;

/** The same for a Dockerfile app: it runs over its image, whose node is the image's. */
const dockerfileApp = (version: string): Record<string, string> => ({
  Dockerfile: 'FROM node:20-slim\nWORKDIR /app\nCOPY . .\nCMD ["node", "server.js"]\n',
  'server.js': forkingApp(version)['server.js'] ?? '',
});

interface Revisions {
  metadata: { name: string };
  status?: { phase: string; reason?: string; steps: { name: string; state: string }[] };
}

async function revisions(stateDir: string, app: string): Promise<Revisions[]> {
  const listed = await runProgram(process.execPath, [bin, 'revisions', app, '-o', 'json', '--state-dir', stateDir]);
  assert.equal(listed.code, 0, listed.stderr);
  return JSON.parse(listed.stdout) as Revisions[];
}

async function setup() {
  const work = await mkdtemp(join(tmpdir(), 'dormant-interrupted-'));
  cleanups.push(() => rm(work, { recursive: true, force: true }));
  const stateDir = join(work, 'state');
  const adminKey = await sshKey(work, 'admin');
  const added = await runProgram(process.execPath, [bin, 'keys', 'add', `${adminKey}.pub`, '--state-dir', stateDir]);
  assert.equal(added.code, 0, added.stderr);
  const ports = { http: await freePort(), ssh: await freePort() };
  const mark = randomBytes(6).toString('hex');
  cleanups.push(() => killWithEnv(markName, mark));
  // What replicas forked, should a test fail before Dormant has killed them.
  cleanups.push(() => killWhere((env) => env.some((entry) => entry.startsWith(`HOME=${stateDir}/`))));
  return { work, stateDir, adminKey, ports, mark, remote: (app: string) => `ssh://git@127.0.0.1:${ports.ssh}/${app}` };
}

/** kill -9 of Dormant; then every process it started (marked, or a replica of app: it has DORMANT_REPLICA) must be gone. */
async function killDormant(up: UpProcess, at: { mark: string; app: string; stateDir: string }, pushing: Promise<RunResult>): Promise<void> {
  const { mark, app } = at;
  const replica = (env: readonly string[]) => env.includes(`DORMANT_APP=${app}`) && env.some((entry) => entry.startsWith('DORMANT_REPLICA='));
  const build = processesWithEnv(markName, mark).filter((pid) => pid !== up.child.pid);
  const replicas = processesWhere(replica);
  // Sandboxes' root parts (a warm sandbox waiting among them) carry none of the app's environment: their shells name their fstab in the state folder.
  const inSandbox = (line: string) => line.includes(`${at.stateDir}/`) && !line.includes('dormant.ts');
  const sandboxes = processesByCommandLine(inSandbox);
  up.child.kill('SIGKILL');
  await once(up.child, 'exit');
  const pushed = await pushing;
  assert.notEqual(pushed.code, 0, 'the push did not succeed');
  const left = (pids: number[]) => pids.map((pid) => `${pid} ${commandLine(pid)}`).join('; ');
  // The script's three sleeps (its shell was started before it set the mark).
  assert.ok(build.length >= 3, `the push's processes ran: ${left(build)}`);
  assert.ok(replicas.length >= 2, `the app's replica and its child ran: ${left(replicas)}`);
  assert.ok(sandboxes.length >= 1, 'sandboxes ran');
  await untilNoneWithEnv(markName, mark, 5000);
  await untilNoneWhere(replica, 5000);
  const deadline = performance.now() + 5000;
  while (processesByCommandLine(inSandbox).length > 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(processesByCommandLine(inSandbox).map(commandLine), [], 'no sandbox is left');
}

describe('kill -9 of Dormant during a push', () => {
  it('mid-build: the build and all it started die, and so do the replicas; the next start marks the revision Failed (Interrupted) and removes its folder; the previous revision serves', async () => {
    const { work, stateDir, adminKey, ports, mark, remote } = await setup();
    const up = await startUp(stateDir, ports, mark);
    const copy = await WorkingCopy.create(work, 'slow', adminKey);
    await copy.commit(forkingApp('v1'), 'v1');
    const first = await copy.push(remote('slow'));
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(await get(ports.http, 'slow'), { status: 200, body: 'v1' });

    const releases = join(stateDir, 'releases', 'slow');
    const buildStarted = await startedSignal('the build started');
    await copy.commit(
      {
        ...forkingApp('v2'),
        'package.json': JSON.stringify({ name: 'app', version: '2.0.0', scripts: { build: 'sh build.sh', start: 'node server.js' } }),
        'build.sh': slowScript(buildStarted.port, mark),
      },
      'v2, slow to build',
    );
    const pushing = copy.push(remote('slow'));
    await buildStarted.arrived();
    assert.equal((await revisions(stateDir, 'slow'))[0]?.status?.phase, 'Building');
    await killDormant(up, { mark, app: 'slow', stateDir }, pushing);

    const again = await startUp(stateDir, ports, mark);
    const [interrupted, previous] = await revisions(stateDir, 'slow');
    assert.equal(interrupted?.metadata.name, 'slow-00002');
    assert.equal(interrupted?.status?.phase, 'Failed');
    assert.equal(interrupted?.status?.reason, 'Interrupted');
    assert.deepEqual(
      interrupted?.status?.steps.map((s) => `${s.name} ${s.state}`),
      ['checkout succeeded', 'build failed', 'image pending', 'deploy pending', 'postDeploy pending'],
    );
    assert.equal(previous?.status?.phase, 'Ready');
    assert.ok(!existsSync(join(releases, 'slow-00002')), 'the interrupted release folder is gone');
    assert.ok(existsSync(join(releases, 'slow-00001')), 'the serving release stays');
    assert.match(again.logs(), /"revision":"slow-00002".*interrupted: Dormant stopped during build/);
    assert.deepEqual(await get(ports.http, 'slow'), { status: 200, body: 'v1' });
    const apps = JSON.parse((await runProgram(process.execPath, [bin, 'apps', '-o', 'json', '--state-dir', stateDir])).stdout) as { name: string; revision?: string }[];
    assert.equal(apps.find((a) => a.name === 'slow')?.revision, 'slow-00001');
    again.child.kill('SIGTERM');
    await once(again.child, 'exit');
  });

  it('mid-postDeploy: the hook and all it started die, and the new replicas too; the next start marks it Interrupted and the previous revision serves', async () => {
    const { work, stateDir, adminKey, ports, mark, remote } = await setup();
    const up = await startUp(stateDir, ports, mark);
    const copy = await WorkingCopy.create(work, 'hooked', adminKey);
    await copy.commit(forkingApp('h1'), 'h1');
    const first = await copy.push(remote('hooked'));
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(await get(ports.http, 'hooked'), { status: 200, body: 'h1' });

    await writeFile(join(work, 'hooked.yaml'), 'apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: hooked}\nspec:\n  hooks: {postDeploy: ["sh hook.sh"]}\n');
    const applied = await runProgram(process.execPath, [bin, 'apply', '-f', join(work, 'hooked.yaml'), '--state-dir', stateDir]);
    assert.equal(applied.code, 0, applied.stderr);
    const hookStarted = await startedSignal('the hook started');
    await copy.commit({ ...forkingApp('h2'), 'hook.sh': slowScript(hookStarted.port, mark) }, 'h2 with a slow hook');
    const pushing = copy.push(remote('hooked'));
    const releases = join(stateDir, 'releases', 'hooked');
    await hookStarted.arrived();
    assert.equal((await revisions(stateDir, 'hooked'))[0]?.status?.phase, 'Deploying');
    await killDormant(up, { mark, app: 'hooked', stateDir }, pushing);

    const again = await startUp(stateDir, ports, mark);
    const [interrupted, previous] = await revisions(stateDir, 'hooked');
    assert.equal(interrupted?.status?.phase, 'Failed');
    assert.equal(interrupted?.status?.reason, 'Interrupted');
    assert.deepEqual(
      interrupted?.status?.steps.map((s) => `${s.name} ${s.state}`),
      ['checkout succeeded', 'build succeeded', 'image skipped', 'deploy succeeded', 'postDeploy failed'],
    );
    assert.equal(previous?.status?.phase, 'Ready');
    assert.ok(!existsSync(join(releases, 'hooked-00002')), 'the interrupted release folder is gone');
    assert.deepEqual(await get(ports.http, 'hooked'), { status: 200, body: 'h1' });
    again.child.kill('SIGTERM');
    await once(again.child, 'exit');
  });

  it('a Dockerfile app mid-postDeploy: the hook over its image and its replicas die, and what they started; the previous revision serves after the next start', async () => {
    const { work, stateDir, adminKey, ports, mark, remote } = await setup();
    const up = await startUp(stateDir, ports, mark);
    await writeFile(join(work, 'dhooked.yaml'), `apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: dhooked}\nspec:\n  run: {env: {${markName}: "${mark}"}}\n`);
    assert.equal((await runProgram(process.execPath, [bin, 'apply', '-f', join(work, 'dhooked.yaml'), '--state-dir', stateDir])).code, 0);
    const copy = await WorkingCopy.create(work, 'dhooked', adminKey);
    await copy.commit(dockerfileApp('d1'), 'd1');
    const first = await copy.push(remote('dhooked'));
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(await get(ports.http, 'dhooked'), { status: 200, body: 'd1' });

    await writeFile(join(work, 'dhooked.yaml'), `apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: dhooked}\nspec:\n  run: {env: {${markName}: "${mark}"}}\n  hooks: {postDeploy: ["sh hook.sh"]}\n`);
    assert.equal((await runProgram(process.execPath, [bin, 'apply', '-f', join(work, 'dhooked.yaml'), '--state-dir', stateDir])).code, 0);
    const hookStarted = await startedSignal('the hook started');
    await copy.commit({ ...dockerfileApp('d2'), 'hook.sh': slowScript(hookStarted.port, mark) }, 'd2 with a slow hook');
    const pushing = copy.push(remote('dhooked'));
    await hookStarted.arrived();
    await killDormant(up, { mark, app: 'dhooked', stateDir }, pushing);

    const again = await startUp(stateDir, ports, mark);
    const [interrupted, previous] = await revisions(stateDir, 'dhooked');
    assert.equal(interrupted?.status?.reason, 'Interrupted');
    assert.equal(previous?.status?.phase, 'Ready');
    assert.deepEqual(await get(ports.http, 'dhooked'), { status: 200, body: 'd1' });
    again.child.kill('SIGTERM');
    await once(again.child, 'exit');
  });
});
