// A tenant holding a per-app key pushes an app whose build script (an npm postinstall),
// postDeploy hook and running code each attack Dormant and another app: they read the
// other app's environment, source and /proc/*/environ, Dormant's host key and admin keys,
// append a key to the admin keys, write into the other app's release and build cache,
// signal the other app's process and call Dormant's admin endpoint without its token.
// Each attempt must fail, and the tenant's key must still push to its own app only. The
// same attacks come from a detected Node app (its npm postinstall) and from a Dockerfile
// app (its RUN step, in podman's build container; its hook and replica run over its image).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type DormantUp, runProgram, spawnUp, sshKey, startDormant, WorkingCopy } from './git-support.js';

let d: DormantUp;
const dormantProgram = fileURLToPath(new URL('../bin/dormant.js', import.meta.url));
/** An app's own uid on the host (app-ids.json). */
const appUid = (app: string): number => (JSON.parse(readFileSync(join(d.stateDir, 'app-ids.json'), 'utf8')) as Record<string, number>)[app] ?? -1;
before(async () => {
  d = await startDormant([], { metrics: true });
});
after(async () => {
  await d?.stop();
});

/**
 * The attacks, as a module of the attacker's app: run by its build (`node attack.js build`),
 * its hook (`node attack.js hook`), which print one ATTACK-REPORT line, and its server.
 * What a tenant could guess or learn (the state folder, the victim's pid and release, the
 * admin port) is in attack-params.json.
 */
const attackModule = `
const fs = require('node:fs');
const path = require('node:path');
const tryIt = async (what, f) => { try { return { what, outcome: 'done', value: String(await f()).slice(0, 200) }; } catch (e) { return { what, outcome: 'blocked', value: e.code || e.message }; } };
async function attack(stage, params) {
  const { state, victimPid, victimRelease, adminUrl, hostHome, hostHomeEntry, dormantProgram } = params;
  const environs = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p))) {
    try { environs.push(fs.readFileSync('/proc/' + pid + '/environ', 'utf8')); } catch {}
  }
  const results = [
    await tryIt('read the host key', () => fs.readFileSync(path.join(state, 'ssh_host_ed25519_key'), 'utf8')),
    await tryIt('read the admin keys', () => fs.readFileSync(path.join(state, 'admin-keys'), 'utf8')),
    await tryIt('read the admin token', () => fs.readFileSync(path.join(state, 'admin-token'), 'utf8')),
    await tryIt('append to the admin keys', () => fs.appendFileSync(path.join(state, 'admin-keys'), 'ssh-ed25519 AAAAattacker\\n')),
    await tryIt("list the state folder's apps", () => fs.readdirSync(path.join(state, 'objects', 'apps', 'default')).join(',')),
    await tryIt("read the victim's App (its env)", () => fs.readFileSync(path.join(state, 'objects', 'apps', 'default', 'victim.json'), 'utf8')),
    await tryIt("read the victim's source", () => fs.readFileSync(path.join(victimRelease, 'server.js'), 'utf8')),
    await tryIt("write into the victim's release", () => fs.writeFileSync(path.join(victimRelease, 'pwned.js'), 'x')),
    await tryIt("write into the victim's build cache", () => fs.writeFileSync(path.join(state, 'cache', 'apps', 'victim', 'cache', 'pwned'), 'x')),
    await tryIt('signal the victim', () => process.kill(victimPid, 'SIGKILL')),
    // Opening another process's memory passes the kernel's ptrace access check (PTRACE_MODE_ATTACH) or fails as ptrace would.
    await tryIt("open the victim's memory (ptrace's check)", () => { const fd = fs.openSync('/proc/' + victimPid + '/mem', 'r'); fs.closeSync(fd); return 'opened'; }),
    await tryIt("list the host's home", () => {
      const entries = fs.readdirSync(hostHome);
      if (!entries.includes(hostHomeEntry)) throw Object.assign(new Error('not the host home'), { code: 'HIDDEN' });
      return entries.join(',');
    }),
    // Readable by anyone on the host: seen only by what runs over the host's root, not over an image or the stack.
    await tryIt("read Dormant's own program (the host's root)", () => fs.readFileSync(dormantProgram, 'utf8')),
    await tryIt("call Dormant's admin endpoint without its token", async () => {
      const answer = await fetch(adminUrl + '/trace/victim');
      if (answer.status === 401) throw Object.assign(new Error('refused'), { code: 'HTTP_401' });
      return answer.status + ' ' + (await answer.text());
    }),
  ];
  // Tells the test who it is: the test reads, on the host, which uid owns this connection.
  await fetch(params.whoamiUrl + '/' + params.app + '/' + stage).catch(() => undefined);
  return { stage, uid: process.getuid(), pids: fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).length, secretSeen: environs.some((e) => e.includes('VICTIM_SECRET')), results };
}
module.exports = { attack };
if (require.main === module) {
  const params = JSON.parse(fs.readFileSync(path.join(__dirname, 'attack-params.json'), 'utf8'));
  attack(process.argv[2], params).then((report) => console.log('ATTACK-REPORT ' + JSON.stringify(report)));
}
`;

const attackerServer = `
const fs = require('node:fs');
const path = require('node:path');
const { attack } = require('./attack.js');
const params = JSON.parse(fs.readFileSync(path.join(__dirname, 'attack-params.json'), 'utf8'));
require('node:http').createServer((q, s) => {
  attack('replica', params).then((report) => {
    s.setHeader('content-type', 'application/json');
    s.end(JSON.stringify(report));
  });
}).listen(process.env.PORT);
`;

/**
 * A loopback server that records, for each /APP/STAGE asked, the host uid that owns the
 * asking connection, read from /proc/net/tcp while it is open: what the kernel says,
 * whatever user namespace the asker sits in.
 */
async function whoamiServer(): Promise<{ url: string; uids: Map<string, number>; close: () => void }> {
  const uids = new Map<string, number>();
  const server = createServer((request, response) => {
    const hex = (port: number | undefined) => `0100007F:${(port ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
    // The asker's end of this very connection, open (01, ESTABLISHED): an earlier connection from the same port that waits in TIME_WAIT shows uid 0.
    const line = readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .map((row) => row.trim().split(/\s+/))
      .find((fields) => fields[1] === hex(request.socket.remotePort) && fields[2] === hex(request.socket.localPort) && fields[3] === '01');
    const uid = Number(line?.[7] ?? -1);
    uids.set((request.url ?? '').slice(1), uid);
    response.end(String(uid));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, uids, close: () => server.close() };
}

interface AttackReport {
  stage: string;
  uid: number;
  pids: number;
  secretSeen: boolean;
  results: { what: string; outcome: string; value: string }[];
}

it("a tenant's build, hook and replica cannot read or change Dormant's keys, another app's env, source or processes", async (t) => {
  // The victim, deployed by the admin, with a secret in its environment.
  await writeFile(join(d.work, 'victim.yaml'), 'apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: victim}\nspec:\n  run:\n    env: {VICTIM_SECRET: hunter2}\n');
  assert.equal((await d.dormant('apply', '-f', join(d.work, 'victim.yaml'))).code, 0);
  const victim = await WorkingCopy.create(d.work, 'victim', d.adminKey);
  await victim.commit({
    'package.json': JSON.stringify({ name: 'victim', version: '1.0.0', scripts: { start: 'node server.js' } }),
    'server.js': "require('node:http').createServer((q, s) => s.end(process.pid + ' ' + process.getuid() + '\\n')).listen(process.env.PORT);\n",
  });
  assert.equal((await victim.push(d.remote('victim'))).code, 0);
  const victimAnswer = await d.get('victim');
  assert.equal(victimAnswer.status, 200);
  const [victimPid] = victimAnswer.body.trim().split(' ').map(Number);
  // The victim's host pid and uid, as the host sees them (inside its sandbox it has others): its node runs as the victim's uid.
  const victimUid = appUid('victim');
  const hostPid = Number(execFileSync('pgrep', ['-u', String(victimUid), '-n', 'node']).toString().trim());
  assert.ok(hostPid > 1, 'the victim runs on the host as its own uid');
  assert.ok(Number.isInteger(victimPid));
  const victimRelease = join(d.stateDir, 'releases', 'victim', readdirSync(join(d.stateDir, 'releases', 'victim'))[0] ?? '');

  // An entry of the host's home that no image's /root has, to tell the two apart.
  await mkdir(join(homedir(), '.cache'), { recursive: true });
  const whoami = await whoamiServer();
  // Closed even when an assertion fails first: an open server would keep this file's process alive.
  t.after(() => whoami.close());
  const params = { state: d.stateDir, victimPid: hostPid, victimRelease, adminUrl: `http://127.0.0.1:${d.metricsPort}`, hostHome: homedir(), hostHomeEntry: '.cache', dormantProgram, whoamiUrl: whoami.url };
  const adminKeysBefore = readFileSync(join(d.stateDir, 'admin-keys'), 'utf8');

  /**
   * A tenant with a key for its own app only, whose admin gave it a postDeploy hook that
   * runs the tenant's code: pushes the files, then returns the build's, the hook's and the
   * replica's reports, each checked blocked on every attempt and blind to other processes.
   */
  const attackFrom = async (app: string, files: Record<string, string>): Promise<{ reports: AttackReport[]; copy: WorkingCopy }> => {
    const key = await sshKey(d.work, `${app}-tenant`);
    const publicKey = (await runProgram('cat', [`${key}.pub`])).stdout.trim();
    await writeFile(
      join(d.work, `${app}.yaml`),
      `apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: ${app}}\nspec:\n  git:\n    authorizedKeys: ["${publicKey}"]\n  hooks:\n    postDeploy: ["node attack.js hook"]\n`,
    );
    assert.equal((await d.dormant('apply', '-f', join(d.work, `${app}.yaml`))).code, 0);
    const copy = await WorkingCopy.create(d.work, app, key);
    await copy.commit({ ...files, 'attack.js': attackModule, 'attack-params.json': JSON.stringify({ ...params, app }), 'server.js': attackerServer });
    const pushed = await copy.push(d.remote(app));
    assert.equal(pushed.code, 0, pushed.stderr);
    const reports = [...pushed.stderr.matchAll(/ATTACK-REPORT (\{.*\})/g)].map((match) => JSON.parse(match[1] ?? '') as AttackReport);
    assert.deepEqual(
      reports.map((report) => report.stage),
      ['build', 'hook'],
      `${app}: the build and the hook each attacked:\n${pushed.stderr}`,
    );
    const answer = await d.get(app, '/attack');
    assert.equal(answer.status, 200, answer.body);
    reports.push(JSON.parse(answer.body) as AttackReport);
    for (const report of reports) {
      assert.ok(report.pids <= 8, `${app}: the ${report.stage} sees only its own processes (${report.pids} in its /proc)`);
      assert.equal(report.secretSeen, false, `${app}: no other process's environment is readable (${report.stage})`);
      for (const result of report.results) assert.equal(result.outcome, 'blocked', `${app}: ${report.stage}: ${result.what}: ${result.outcome} (${result.value})`);
    }
    assert.equal(readFileSync(join(d.stateDir, 'admin-keys'), 'utf8'), adminKeysBefore, 'the admin keys are unchanged');
    assert.throws(() => statSync(join(victimRelease, 'pwned.js')), /ENOENT/);
    assert.throws(() => statSync(join(d.stateDir, 'cache', 'apps', 'victim', 'cache', 'pwned')), /ENOENT/);
    assert.equal((await d.get('victim')).status, 200, 'the victim still serves');
    // And the tenant's key still pushes nowhere else.
    const elsewhere = await copy.push(d.remote('victim'));
    assert.notEqual(elsewhere.code, 0);
    assert.match(elsewhere.stderr, /GITD_ACCESS_DENIED/);
    return { reports, copy };
  };

  // A detected Node app: a local dependency, so that npm installs, and the package's postinstall runs the attack.
  const node = await attackFrom('attacker', {
    'package.json': JSON.stringify({ name: 'attacker', version: '1.0.0', scripts: { start: 'node server.js', postinstall: 'node attack.js build' }, dependencies: { helper: 'file:helper' } }),
    'helper/package.json': JSON.stringify({ name: 'helper', version: '1.0.0' }),
  });
  for (const report of node.reports) {
    assert.equal(whoami.uids.get(`attacker/${report.stage}`), appUid('attacker'), `the ${report.stage} runs as the app's own uid on the host, not root, not the other app's`);
  }
  // The build, hook and replica run over the stack, as its user for apps (node, 1000) inside their user namespace.
  assert.deepEqual(
    node.reports.map((report) => report.uid),
    [1000, 1000, 1000],
  );

  // A Dockerfile app: its RUN step (in podman's build container), its hook and its replica (over its image, in the sandbox).
  const docker = await attackFrom('dattacker', { Dockerfile: 'FROM node:20-slim\nWORKDIR /app\nCOPY . .\nRUN node attack.js build\nCMD ["node", "server.js"]\n' });
  for (const report of docker.reports) {
    // podman builds as root in its own container (not this sandbox: README says so); the hook and replica are root only inside their user namespace.
    if (report.stage !== 'build') assert.equal(whoami.uids.get(`dattacker/${report.stage}`), appUid('dattacker'), `the Dockerfile app's ${report.stage} runs as its app uid on the host`);
  }
});

it("an App's environment reaches only the app: LD_PRELOAD in it loads into no root process of the sandbox, in a build, hook or replica", async (t) => {
  if (spawnSync('gcc', ['--version']).status !== 0) {
    t.skip('gcc is not installed: the preloaded library cannot be made');
    return;
  }
  // A library that, loaded into a process running as root, says so in a file the test reads.
  const marker = join(d.work, 'preloaded-as-root');
  const source = join(d.work, 'preload.c');
  const library = join(d.work, 'preload.so');
  await writeFile(
    source,
    '#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n__attribute__((constructor)) static void said(void) {\n  const char *to = getenv("DORMANT_TEST_MARKER");\n  if (to && geteuid() == 0) { FILE *f = fopen(to, "a"); if (f) { fprintf(f, "root %d\\n", getpid()); fclose(f); } }\n}\n',
  );
  execFileSync('gcc', ['-shared', '-fPIC', '-o', library, source]);
  await writeFile(
    join(d.work, 'preloader.yaml'),
    `apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: preloader}\nspec:\n  run:\n    env: {LD_PRELOAD: "${library}", DORMANT_TEST_MARKER: "${marker}"}\n  hooks:\n    postDeploy: ["true"]\n`,
  );
  assert.equal((await d.dormant('apply', '-f', join(d.work, 'preloader.yaml'))).code, 0);
  const copy = await WorkingCopy.create(d.work, 'preloader', d.adminKey);
  await copy.commit({
    'package.json': JSON.stringify({ name: 'preloader', version: '1.0.0', scripts: { start: 'node server.js' }, dependencies: { helper: 'file:helper' } }),
    'helper/package.json': JSON.stringify({ name: 'helper', version: '1.0.0' }),
    'server.js': "require('node:http').createServer((q, s) => s.end(process.env.LD_PRELOAD ? 'preloaded' : 'plain')).listen(process.env.PORT);\n",
  });
  const pushed = await copy.push(d.remote('preloader'));
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.equal((await d.get('preloader')).body, 'preloaded', 'the app itself gets its environment');
  assert.throws(() => readFileSync(marker, 'utf8'), /ENOENT/, 'no root process loaded the library');
});

it('a replica is limited in memory, CPU and processes; one that uses more than its memory is killed and the App says why', async () => {
  await writeFile(
    join(d.work, 'hog.yaml'),
    'apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: hog}\nspec:\n  run:\n    resources: {requests: {cpu: 250m}, limits: {memory: 64Mi, cpu: 500m}}\n',
  );
  assert.equal((await d.dormant('apply', '-f', join(d.work, 'hog.yaml'))).code, 0);
  const hog = await WorkingCopy.create(d.work, 'hog', d.adminKey);
  await hog.commit({
    'package.json': JSON.stringify({ name: 'hog', version: '1.0.0', scripts: { start: 'node server.js' } }),
    // On /hog it eats memory until stopped.
    'server.js': `
require('node:http').createServer((q, s) => {
  if (q.url === '/hog') {
    s.end('eating');
    const eaten = [];
    setImmediate(() => { for (;;) eaten.push(Buffer.alloc(4e6, 1)); });
    return;
  }
  s.end('ok');
}).listen(process.env.PORT);
`,
  });
  const pushed = await hog.push(d.remote('hog'));
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.equal((await d.get('hog')).body, 'ok');
  // Its cgroups' limits, read on the host (cgroup v1: /proc/PID/cgroup names them; the sandbox has no /sys).
  const pid = execFileSync('pgrep', ['-u', String(appUid('hog')), '-n', 'node'], { encoding: 'utf8' }).trim();
  const own = (controller: string) => readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').map((l) => l.split(':')).find((f) => (f[1] ?? '').split(',').includes(controller))?.[2] ?? '';
  const read = (controller: string, file: string) => readFileSync(`/sys/fs/cgroup/${controller}${own(controller)}/${file}`, 'utf8').trim();
  assert.deepEqual(
    { memory: read('memory', 'memory.limit_in_bytes'), quota: read('cpu', 'cpu.cfs_quota_us'), shares: read('cpu', 'cpu.shares'), pids: read('pids', 'pids.max') },
    { memory: String(64 * 1024 * 1024), quota: '50000', shares: '256', pids: '1024' },
  );
  assert.equal((await d.get('hog', '/hog')).body, 'eating');
  // The App's Ready condition says why its replica died (read from the state folder: no command shows conditions yet).
  let said = '';
  for (let tries = 0; tries < 100 && !said.includes('memory limit'); tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    said = readFileSync(join(d.stateDir, 'objects', 'apps', 'default', 'hog.json'), 'utf8');
  }
  assert.match(said, /was killed by the kernel: it used all of its memory limit \(64Mi; raise spec.run.resources.limits.memory\)/);
  assert.equal((await d.dormant('apps')).code, 0, 'Dormant is unharmed');
});

it("a replica that replaces one starts in a warm sandbox, made ahead for its revision and config, in which only the app waits to start", async () => {
  await writeFile(join(d.work, 'warm.yaml'), 'apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: warm}\nspec:\n  run:\n    env: {GREETING: hello}\n');
  assert.equal((await d.dormant('apply', '-f', join(d.work, 'warm.yaml'))).code, 0);
  const copy = await WorkingCopy.create(d.work, 'warm', d.adminKey);
  await copy.commit({
    'package.json': JSON.stringify({ name: 'warm', version: '1.0.0', scripts: { start: 'node server.js' } }),
    'server.js': "require('node:http').createServer((q, s) => s.end(process.env.GREETING + ' ' + process.env.DORMANT_REPLICA + ' ' + process.pid + ' ' + process.getuid())).listen(process.env.PORT);\n",
  });
  assert.equal((await copy.push(d.remote('warm'))).code, 0);
  const [greeting, first] = (await d.get('warm')).body.split(' ');
  assert.equal(greeting, 'hello');
  const uid = String(appUid('warm'));
  // Made once the replica was ready: a sandbox of the same app under another replica id (its folder in the state folder; its
  // processes carry no environment of the app's before it opens), and no process of the app's uid yet.
  const parkedId = async (): Promise<string | undefined> => {
    for (let tries = 0; tries < 100; tries++) {
      const other = readdirSync(join(d.stateDir, 'replicas')).find((id) => id.startsWith('warm-') && id !== first);
      if (other) return other;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return undefined;
  };
  const parked = await parkedId();
  assert.ok(parked, 'a warm sandbox waits');
  assert.equal(execFileSync('pgrep', ['-c', '-u', uid ?? '', 'node'], { encoding: 'utf8' }).trim(), '1', 'only the serving replica runs app code');
  // The serving replica dies; the one that replaces it is the warm sandbox, and answers with the same config.
  execFileSync('pkill', ['-KILL', '-u', uid ?? '', 'node']);
  let answer = '';
  for (let tries = 0; tries < 100 && !answer.startsWith('hello '); tries++) {
    answer = (await d.get('warm')).body;
    if (!answer.startsWith('hello ')) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(answer.split(' ').slice(0, 2).join(' '), `hello ${parked}`);
});

it('started with --insecure-no-sandbox, dormant up says so, and dormant apps says so every time', async () => {
  const unsafe = await startDormant(['--insecure-no-sandbox']);
  try {
    assert.match(unsafe.logs(), /--insecure-no-sandbox: tenants' code runs with Dormant's rights/);
    const listed = await unsafe.dormant('apps');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stderr, /WARNING: dormant up runs with --insecure-no-sandbox: replicas run unsandboxed/);
  } finally {
    await unsafe.stop();
  }
  // And a sandboxed one says nothing of the kind.
  const listed = await d.dormant('apps');
  assert.doesNotMatch(listed.stderr, /insecure/);
});

it('a damaged app-ids.json stops dormant up with the file named, and is left as it was', async () => {
  const work = await mkdtemp(join(tmpdir(), 'dormant-app-ids-'));
  const stateDir = join(work, 'state');
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, 'app-ids.json'), '{"web": "not a uid"');
  try {
    const up = spawnUp(['--state-dir', stateDir, '--http-port', '0', '--ssh-port', '0', '--metrics-port', '0']);
    await assert.rejects(up.ready, /dormant up exited 1: error \[SANDBOX_BAD_APP_IDS\]: \S+app-ids\.json is not a JSON object of app names to positive whole uids/);
    assert.equal(readFileSync(join(stateDir, 'app-ids.json'), 'utf8'), '{"web": "not a uid"');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
