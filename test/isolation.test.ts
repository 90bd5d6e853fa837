// A tenant holding a per-app key pushes an app whose running code attacks Dormant and
// another app from inside its replica: it reads the other app's environment, source and
// /proc/*/environ, Dormant's host key and admin keys, appends its key to the admin keys,
// writes into the other app's release, and signals the other app's process. Each attempt
// must fail, and the tenant's key must still push to its own app only.
// Builds and hooks are not sandboxed yet (issue 19, next part): this covers replicas.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { type DormantUp, runProgram, spawnUp, sshKey, startDormant, WorkingCopy } from './git-support.js';

let d: DormantUp;
before(async () => {
  d = await startDormant();
});
after(async () => {
  await d?.stop();
});

/** The attacker's server: on GET /attack?victimPid=N it tries each attack and answers what happened, as JSON. */
const attackerServer = `
const fs = require('node:fs');
const path = require('node:path');
const state = process.env.STATE;
const tryIt = (what, f) => { try { return { what, outcome: 'done', value: String(f()).slice(0, 200) }; } catch (e) { return { what, outcome: 'blocked', value: e.code || e.message }; } };
require('node:http').createServer((q, s) => {
  const url = new URL(q.url, 'http://x');
  const victimPid = Number(url.searchParams.get('victimPid'));
  const victimRelease = url.searchParams.get('victimRelease');
  const environs = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p))) {
    try { environs.push(fs.readFileSync('/proc/' + pid + '/environ', 'utf8')); } catch {}
  }
  const results = [
    tryIt('read the host key', () => fs.readFileSync(path.join(state, 'ssh_host_ed25519_key'), 'utf8')),
    tryIt('read the admin keys', () => fs.readFileSync(path.join(state, 'admin-keys'), 'utf8')),
    tryIt('append to the admin keys', () => fs.appendFileSync(path.join(state, 'admin-keys'), 'ssh-ed25519 AAAAattacker\\n')),
    tryIt("list the state folder's apps", () => fs.readdirSync(path.join(state, 'objects', 'apps', 'default')).join(',')),
    tryIt("read the victim's App (its env)", () => fs.readFileSync(path.join(state, 'objects', 'apps', 'default', 'victim.json'), 'utf8')),
    tryIt("read the victim's source", () => fs.readFileSync(path.join(victimRelease, 'server.js'), 'utf8')),
    tryIt("write into the victim's release", () => fs.writeFileSync(path.join(victimRelease, 'pwned.js'), 'x')),
    tryIt('signal the victim', () => process.kill(victimPid, 'SIGKILL')),
    tryIt("list root's home", () => {
      const entries = fs.readdirSync('/root');
      if (entries.length === 0) throw Object.assign(new Error('empty'), { code: 'HIDDEN' });
      return entries.join(',');
    }),
  ];
  s.setHeader('content-type', 'application/json');
  s.end(JSON.stringify({ uid: process.getuid(), pids: fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).length, secretSeen: environs.some((e) => e.includes('VICTIM_SECRET')), results }));
}).listen(process.env.PORT);
`;

it("a tenant's replica cannot read or change Dormant's keys, another app's env, source or processes", async () => {
  // The victim, deployed by the admin, with a secret in its environment.
  await writeFile(join(d.work, 'victim.yaml'), 'apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: victim}\nspec:\n  run:\n    env: {VICTIM_SECRET: hunter2}\n');
  assert.equal((await d.dormant('apply', '-f', join(d.work, 'victim.yaml'))).code, 0);
  const victim = await WorkingCopy.create(d.work, 'victim', d.adminKey);
  await victim.commit({
    'package.json': JSON.stringify({ name: 'victim', version: '1.0.0', scripts: { start: 'node server.js' } }),
    'server.js': "require('node:http').createServer((q, s) => s.end(process.pid + ' ' + process.getuid() + '\\n')).listen(process.env.PORT);\n",
  });
  assert.equal((await victim.push(d.remote('victim'))).code, 0);

  // The attacker: a tenant with a key for its own app only. It learns where the state folder is, as a tenant could guess it.
  const tenantKey = await sshKey(d.work, 'tenant');
  const publicKey = (await runProgram('cat', [`${tenantKey}.pub`])).stdout.trim();
  await writeFile(
    join(d.work, 'attacker.yaml'),
    `apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: attacker}\nspec:\n  git:\n    authorizedKeys: ["${publicKey}"]\n  run:\n    env: {STATE: "${d.stateDir}"}\n`,
  );
  assert.equal((await d.dormant('apply', '-f', join(d.work, 'attacker.yaml'))).code, 0);
  const attacker = await WorkingCopy.create(d.work, 'attacker', tenantKey);
  await attacker.commit({ 'package.json': JSON.stringify({ name: 'attacker', version: '1.0.0', scripts: { start: 'node server.js' } }), 'server.js': attackerServer });
  const pushed = await attacker.push(d.remote('attacker'));
  assert.equal(pushed.code, 0, pushed.stderr);

  const adminKeysBefore = readFileSync(join(d.stateDir, 'admin-keys'), 'utf8');
  const victimAnswer = await d.get('victim');
  assert.equal(victimAnswer.status, 200);
  const [victimPid, victimUid] = victimAnswer.body.trim().split(' ').map(Number);
  // The victim's host pid, as the host sees it (inside its sandbox it has another): its node runs as the victim's uid.
  const hostPid = Number(execFileSync('pgrep', ['-u', String(victimUid), '-n', 'node']).toString().trim());
  assert.ok(hostPid > 1, 'the victim runs on the host as its own uid');
  const victimRelease = join(d.stateDir, 'releases', 'victim', readdirSync(join(d.stateDir, 'releases', 'victim'))[0] ?? '');
  const answer = await d.get('attacker', `/attack?victimPid=${hostPid}&victimRelease=${encodeURIComponent(victimRelease)}`);
  assert.equal(answer.status, 200, answer.body);
  const report = JSON.parse(answer.body) as { uid: number; pids: number; secretSeen: boolean; results: { what: string; outcome: string; value: string }[] };

  assert.notEqual(report.uid, 0, 'the replica does not run as root');
  assert.notEqual(report.uid, victimUid, 'nor as the other app');
  assert.ok(Number.isInteger(victimPid));
  assert.ok(report.pids <= 5, `it sees only its own processes (${report.pids} in its /proc)`);
  assert.equal(report.secretSeen, false, "no other process's environment is readable");
  for (const result of report.results) assert.equal(result.outcome, 'blocked', `${result.what}: ${result.outcome} (${result.value})`);
  assert.equal(readFileSync(join(d.stateDir, 'admin-keys'), 'utf8'), adminKeysBefore, 'the admin keys are unchanged');
  assert.throws(() => statSync(join(victimRelease, 'pwned.js')), /ENOENT/);
  assert.equal((await d.get('victim')).status, 200, 'the victim still serves');

  // And the tenant's key still pushes nowhere else.
  const elsewhere = await attacker.push(d.remote('victim'));
  assert.notEqual(elsewhere.code, 0);
  assert.match(elsewhere.stderr, /GITD_ACCESS_DENIED/);
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
