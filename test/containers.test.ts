// Dockerfile apps pushed with real git, built by real podman on the bootstrapped bases
// (hack/base-images.sh), run by the local runtime in the sandbox over their unpacked image
// (bubblewrap), or as podman containers when they listen on a fixed port.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { type DormantUp, startDormant, WorkingCopy } from './git-support.js';

const run = promisify(execFile);
const podmanEnv = { ...process.env, CONTAINERS_CONF: join(homedir(), '.cache', 'dormant', 'containers.conf') };
const containersOf = async (app: string) =>
  (await run('podman', ['ps', '-a', '--filter', `label=dev.dormant.app=${app}`, '--format', '{{.Names}}'], { env: podmanEnv })).stdout.split('\n').filter(Boolean);

/** The app's uid (app-ids.json) and the pids of the processes that run as it. */
const appUid = (stateDir: string, app: string): number => (JSON.parse(readFileSync(join(stateDir, 'app-ids.json'), 'utf8')) as Record<string, number>)[app] ?? -1;
const processesOf = (uid: number): number[] =>
  readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return new RegExp(`^Uid:\\s+${uid}\\s`, 'm').test(readFileSync(`/proc/${pid}/status`, 'utf8'));
      } catch {
        return false;
      }
    })
    .map(Number);
const commOf = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};
/** A process's memory cgroup limit, read on the host. */
const memoryLimitOf = (pid: number): string => {
  const path = /^\d+:memory:(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[1] ?? '';
  return readFileSync(`/sys/fs/cgroup/memory${path}/memory.limit_in_bytes`, 'utf8').trim();
};

/** What the app reports of its sandbox at /seen. */
const seenServer = `const fs = require('node:fs');
const writes = (path) => { try { fs.writeFileSync(path, 'x'); return true; } catch (e) { return e.code; } };
const seen = () => ({
  uid: process.getuid(), cwd: process.cwd(), home: process.env.HOME,
  rootWritable: writes('/written'), appWritable: writes('./written'), tmpWritable: writes('/tmp/written'),
  nodeVersion: process.version.slice(0, 3),
  hostPodman: fs.existsSync('/usr/bin/podman'),
  processes: fs.readdirSync('/proc').filter((n) => /^\\d+$/.test(n)),
});`;

const dockerApp = (version: string, extra: Record<string, string> = {}): Record<string, string> => ({
  Dockerfile: 'FROM node:20-slim\nWORKDIR /app\nCOPY server.js ./\nCMD ["node", "server.js"]\n',
  'server.js': `${seenServer}\nrequire('node:http').createServer((q, s) => s.end(q.url === '/seen' ? JSON.stringify(seen()) : 'container ${version}\\n')).listen(process.env.PORT);\n`,
  ...extra,
});

let d: DormantUp;
before(async () => {
  d = await startDormant();
});
after(async () => {
  await d?.stop();
});

describe('Dockerfile apps as containers', () => {
  it('a Node app with a Dockerfile builds on the bootstrapped node:20-slim, serves from its image in the sandbox, scales to zero and wakes', async (t: TestContext) => {
    const copy = await WorkingCopy.create(d.work, 'box', d.adminKey);
    await copy.commit(dockerApp('v1'));
    const pushed = await copy.push(d.remote('box'));
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /Building box \(Dockerfile, FROM node:20-slim\)/);
    assert.match(pushed.stderr, /remote: +STEP 1\/5: FROM node:20-slim/);
    assert.match(pushed.stderr, /remote: +STEP 5\/5: LABEL "dev.dormant.state"="[0-9a-f]{16}"/, "the image says which state folder made it (what gc goes by)");
    assert.match(pushed.stderr, /Successfully tagged localhost\/dormant\/box:box-00001/);
    const started = performance.now();
    const first = await d.get('box');
    assert.equal(first.status, 200, first.body);
    assert.equal(first.body, 'container v1\n');
    t.diagnostic(`first request to the Dockerfile app from zero: ${(performance.now() - started).toFixed(0)} ms`);
    assert.deepEqual(await containersOf('box'), [], 'no podman container: podman only built the image');
    // One replica, as the app's own uid, limited as a process replica is (512Mi).
    const uid = appUid(d.stateDir, 'box');
    assert.ok(uid >= 1_500_000_000, `the app has a uid of its own (${uid})`);
    const pids = processesOf(uid).filter((pid) => commOf(pid) === 'node');
    assert.ok(pids.length > 0, 'the replica runs as the app uid');
    assert.ok(pids.every((pid) => memoryLimitOf(pid) === '536870912'), 'in a cgroup with the default memory limit');
    // What it sees: its image as a read-only root, its WORKDIR writable, root inside its own user namespace (the image names no USER), its own /proc.
    const seen = JSON.parse((await d.get('box', '/seen')).body) as Record<string, unknown>;
    assert.deepEqual(seen, { uid: 0, cwd: '/app', home: '/root', rootWritable: 'EROFS', appWritable: true, tmpWritable: true, nodeVersion: 'v20', hostPodman: false, processes: seen.processes });
    assert.ok(Array.isArray(seen.processes) && seen.processes.length <= 3, `its /proc shows only its own sandbox's processes: ${JSON.stringify(seen.processes)}`);
    const listed = JSON.parse((await d.dormant('apps', '-o', 'json')).stdout) as { name: string; runsAs: string; image: string }[];
    assert.deepEqual(listed.filter((a) => a.name === 'box').map((a) => [a.runsAs, a.image]), [['images', 'localhost/dormant/box:box-00001']]);
    // The unpacked trees hold what the image holds (setuid files, device nodes): root's only.
    assert.equal(statSync(join(d.stateDir, 'images')).mode & 0o777, 0o700);

    assert.equal((await d.dormant('policy', 'set', 'box', 'stableWindow=6s', 'scaleToZeroGracePeriod=0s')).code, 0);
    const deadline = performance.now() + 30_000;
    // A warm sandbox of its may wait (bubblewrap, as its uid, before the app's exec), but no app code runs.
    const running = () => processesOf(uid).filter((pid) => commOf(pid) !== 'bwrap');
    while (running().length > 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 500));
    // What is left, if anything, said whole: its command line, its parent and its state (seen once in CI as 'node-MainThread').
    const described = (pid: number) => {
      const read = (file: string) => {
        try {
          return readFileSync(`/proc/${pid}/${file}`, 'utf8');
        } catch {
          return '';
        }
      };
      return `${pid} ${read('cmdline').replace(/\0/g, ' ').trim()} (${/^(State|PPid):.*$/gm.exec(read('status'))?.[0] ?? ''}; ${read('status').match(/^PPid:.*$/m)?.[0] ?? ''})`;
    };
    // And what Dormant thinks of its replicas then (phase, requests in flight).
    const replicasSeen = running().length > 0 ? await d.dormant('ps', 'box', '-o', 'json').then((ps) => `${ps.stdout}${ps.stderr}`) : '';
    assert.deepEqual(running().map(commOf), [], `scaled to zero: no process of the app left but a warm sandbox; left: ${running().map(described).join('; ')}\nps: ${replicasSeen}\n${d.logs().slice(-2000)}`);
    assert.equal((await d.get('box')).body, 'container v1\n', 'woken again');

    // The images: the bases and the app's, then gc keeps the serving revision and the newest N.
    await copy.commit(dockerApp('v2'));
    assert.equal((await copy.push(d.remote('box'))).code, 0);
    const imageList = JSON.parse((await d.dormant('images', '-o', 'json')).stdout) as { kind: string; name: string; revision?: string }[];
    assert.ok(imageList.some((i) => i.kind === 'base' && i.name === 'node:20-slim'), 'the bootstrapped base is listed');
    assert.deepEqual(imageList.filter((i) => i.name.startsWith('localhost/dormant/box:')).map((i) => i.revision).sort(), ['box-00001', 'box-00002']);
    assert.match((await d.dormant('gc', '--keep', '0')).stderr, /--keep must be a whole number of at least 1, got "0"/);
    // Another Dormant on this machine (another state folder) built an app of the same name: not ours to collect.
    const foreign = 'localhost/dormant/box:box-00077';
    const foreignDir = join(d.work, 'foreign-build');
    await run('mkdir', ['-p', foreignDir]);
    await writeFile(join(foreignDir, 'Containerfile'), 'FROM docker.io/library/node:20-slim\n');
    await run('podman', ['build', '-q', '-t', foreign, '--label', 'dev.dormant.state=0123456789abcdef', foreignDir], { env: podmanEnv });
    try {
      const collected = await d.dormant('gc', '--keep', '1');
      assert.match(collected.stdout, /removed localhost\/dormant\/box:box-00001/);
      assert.doesNotMatch(collected.stdout, /box-00002|box-00077/);
      const after = JSON.parse((await d.dormant('images', '-o', 'json')).stdout) as { name: string }[];
      assert.deepEqual(after.filter((i) => i.name.startsWith('localhost/dormant/box:')).map((i) => i.name), ['localhost/dormant/box:box-00002', foreign], "another state folder's image survives");
    } finally {
      await run('podman', ['rmi', foreign], { env: podmanEnv }).catch(() => undefined);
    }
    assert.equal((await d.get('box')).body, 'container v2\n');
  });

  it('a broken Dockerfile is rejected with its step named, and the old version keeps serving', async () => {
    const copy = await WorkingCopy.create(d.work, 'fragile', d.adminKey);
    await copy.commit(dockerApp('f1'));
    assert.equal((await copy.push(d.remote('fragile'))).code, 0);
    await copy.commit({ Dockerfile: 'FROM node:20-slim\nRUN echo about to fail && exit 5\n' });
    const broken = await copy.push(d.remote('fragile'));
    assert.match(broken.stderr, /remote: +about to fail/);
    assert.match(broken.stderr, /! \[remote rejected\] main -> main \(build failed: podman build exited 5 at STEP "RUN echo about to fail && exit 5"/);
    assert.equal((await d.get('fragile')).body, 'container f1\n');

    await copy.commit({ Dockerfile: 'FROM node:20-alpine\n' });
    const alpine = await copy.push(d.remote('fragile'));
    assert.match(alpine.stderr, /FROM node:20-alpine: Alpine images cannot be made here .* use node:20-slim instead/);
    await copy.commit({ Dockerfile: 'FROM nowhere.invalid/base:1\n' });
    const missing = await copy.push(d.remote('fragile'));
    assert.match(missing.stderr, /the base image nowhere\.invalid\/base:1 is not on this machine and cannot be pulled .* hack\/base-images\.sh/);
    assert.equal((await d.get('fragile')).body, 'container f1\n');
  });

  it('an app on a fixed port (spec.run.port) runs as a podman container, and one a SIGKILLed dormant up left is removed by the next start', async () => {
    const own = await startDormant();
    try {
      await writeFile(join(own.work, 'orphan.yaml'), 'apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: orphan}\nspec: {run: {port: 8080}}\n');
      assert.equal((await own.dormant('apply', '-f', join(own.work, 'orphan.yaml'))).code, 0);
      const copy = await WorkingCopy.create(own.work, 'orphan', own.adminKey);
      await copy.commit({ ...dockerApp('o1'), 'server.js': "require('node:http').createServer((q, s) => s.end('fixed\\n')).listen(8080);\n" });
      const pushed = await copy.push(own.remote('orphan'));
      assert.equal(pushed.code, 0, pushed.stderr);
      assert.equal((await own.get('orphan')).body, 'fixed\n');
      assert.equal((await containersOf('orphan')).length, 1);
      const listed = JSON.parse((await own.dormant('apps', '-o', 'json')).stdout) as { name: string; runsAs: string }[];
      assert.deepEqual(listed.map((a) => a.runsAs), ['containers']);
      process.kill(own.pid, 'SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal((await containersOf('orphan')).length, 1, 'podman keeps the container when its client dies');
      const again = await startDormant(['--state-dir', own.stateDir]);
      try {
        assert.deepEqual(await containersOf('orphan'), [], 'reaped on start');
      } finally {
        await again.stop();
      }
    } finally {
      await own.stop();
    }
  });

  it('public Dockerfiles as they come: FROM node:18-slim with USER node, and FROM node:slim (the newest line), each on its Node, as the image user node', async () => {
    const server = "require('node:http').createServer((q, s) => s.end(JSON.stringify({ node: process.version, user: require('node:os').userInfo().username, home: process.env.HOME }))).listen(process.env.PORT);\n";
    const bases: [string, string, RegExp][] = [
      ['node18', 'FROM node:18-slim\nWORKDIR /home/node/app\nCOPY --chown=node:node . .\nUSER node\nCMD ["node", "server.js"]\n', /^v18\./],
      ['nodeslim', 'FROM node:slim\nWORKDIR /app\nCOPY . .\nUSER node\nCMD ["node", "server.js"]\n', /^v26\./],
    ];
    for (const [app, dockerfile, version] of bases) {
      const copy = await WorkingCopy.create(d.work, app, d.adminKey);
      await copy.commit({ Dockerfile: dockerfile, 'server.js': server });
      const pushed = await copy.push(d.remote(app));
      assert.equal(pushed.code, 0, pushed.stderr);
      const answer = await d.get(app);
      assert.equal(answer.status, 200, answer.body);
      const seen = JSON.parse(answer.body) as { node: string; user: string; home: string };
      assert.match(seen.node, version, `${app}: ${answer.body}`);
      assert.deepEqual([seen.user, seen.home], ['node', '/home/node'], `${app} runs as the image's node user`);
    }
  });
});

describe('Dockerfile apps that go wrong', () => {
  it('a Dockerfile that does not parse, a build over its timeout, an app that exits at once, one that ignores $PORT and images with a hostile USER or WORKDIR: each rejected, the old version serving', async () => {
    const own = await startDormant(['--build-timeout', '3s']);
    try {
      const copy = await WorkingCopy.create(own.work, 'wrong', own.adminKey);
      await copy.commit(dockerApp('w1'));
      assert.equal((await copy.push(own.remote('wrong'))).code, 0);
      const serving = async () => assert.equal((await own.get('wrong')).body, 'container w1\n');

      await copy.commit({ Dockerfile: 'FROMM node:20-slim\n' });
      const unparsable = await copy.push(own.remote('wrong'));
      assert.match(unparsable.stderr, /remote: +Error: no FROM statement found/);
      assert.match(unparsable.stderr, /! \[remote rejected\] main -> main \(build failed: podman build exited \d+/);
      await serving();

      await copy.commit({ Dockerfile: 'FROM node:20-slim\nRUN sleep 30\n' });
      const slow = await copy.push(own.remote('wrong'));
      assert.match(slow.stderr, /! \[remote rejected\] main -> main \(build failed: the build took longer than 3\.0 s and was stopped\)/);
      await serving();

      await copy.commit({ Dockerfile: 'FROM node:20-slim\nCMD ["sh", "-c", "echo missing DATABASE_URL >&2; exit 3"]\n' });
      const exits = await copy.push(own.remote('wrong'));
      assert.match(exits.stderr, /remote: +missing DATABASE_URL/);
      assert.match(exits.stderr, /! \[remote rejected\] main -> main \(deploy failed: replica wrong-\d+-\w+ exited with code 3: missing DATABASE_URL\)/);
      await serving();

      await writeFile(join(own.work, 'wrong.yaml'), 'apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: wrong}\nspec: {run: {startTimeout: 3s}}\n');
      assert.equal((await own.dormant('apply', '-f', join(own.work, 'wrong.yaml'))).code, 0);
      await copy.commit({ Dockerfile: 'FROM node:20-slim\nCMD ["node", "-e", "require(\'node:http\').createServer((q, s) => s.end()).listen(3999)"]\n' });
      const fixedPort = await copy.push(own.remote('wrong'));
      assert.match(fixedPort.stderr, /nothing listened on its port \d+; the app must listen on the port in \$PORT/);
      await serving();

      // Hostile image configs: a USER its passwd does not know, a WORKDIR that is a link to the host's root. Refused before anything runs, with why.
      await copy.commit({ Dockerfile: 'FROM node:20-slim\nUSER ghost\nCMD ["node", "-e", "0"]\n' });
      const ghost = await copy.push(own.remote('wrong'));
      assert.match(ghost.stderr, /the image localhost\/dormant\/wrong:wrong-\d+ cannot be run here: its USER ghost is not in its \/etc\/passwd/);
      assert.match(ghost.stderr, /! \[remote rejected\] main -> main \(deploy failed: /);
      await serving();
      await copy.commit({ Dockerfile: 'FROM node:20-slim\nRUN ln -s / /escape\nWORKDIR /escape\nCMD ["node", "-e", "0"]\n' });
      const linked = await copy.push(own.remote('wrong'));
      assert.match(linked.stderr, /cannot be run here: its WORKDIR \/escape is not a folder \(or a symbolic link is on its way\)/);
      await serving();
    } finally {
      await own.stop();
    }
  });
});
