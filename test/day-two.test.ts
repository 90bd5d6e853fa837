// Day two through the real CLI against a running dormant up (issue 21): config changes and
// rollbacks are releases of an earlier build (new Revisions, no rebuild), rolled out while
// requests keep coming, none of them failed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DormantUp, pushNewApp, startDormant, type WorkingCopy } from './git-support.js';

let d: DormantUp;
before(async () => {
  d = await startDormant([], { metrics: true });
});
after(async () => {
  await d?.stop();
});

/** A Node app answering its version, a config var and NODE_ENV: `v1 greeting=hi node_env=production`. */
const envApp = (version: string, status = 200): Record<string, string> => ({
  'package.json': JSON.stringify({ name: 'day-two', version: '1.0.0', scripts: { start: 'node server.js' } }),
  'server.js': `require('node:http').createServer((q, s) => { s.statusCode = ${status}; s.end(\`${version} greeting=\${process.env.GREETING ?? '-'} node_env=\${process.env.NODE_ENV ?? '-'}\\n\`); }).listen(process.env.PORT);\n`,
});

/** Asks app until work ends: every answer's status and body. */
async function answersWhile<T>(app: string, work: Promise<T>): Promise<{ result: T; answers: { status: number; body: string }[] }> {
  let working = true;
  const done = work.finally(() => {
    working = false;
  });
  const answers: { status: number; body: string }[] = [];
  while (working) {
    answers.push(await d.get(app).catch(() => ({ status: 0, body: '' })));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { result: await done, answers };
}

const releaseNumberOf = (name: string): number => Number(/-(\d+)$/.exec(name)?.[1] ?? 0);

const releases = async (app: string) => JSON.parse((await d.dormant('releases', app, '-o', 'json')).stdout) as { metadata: { name: string }; spec: { change?: { kind: string; description: string; by?: string; from?: string }; run: { env: Record<string, string> } }; status?: { phase: string; steps: { name: string; state: string; message?: string }[] } }[];

describe('config', () => {
  let copy: WorkingCopy;
  before(async () => {
    const pushed = await pushNewApp(d, 'conf', envApp('v1'));
    assert.equal(pushed.pushed.code, 0, pushed.pushed.stderr);
    copy = pushed.copy;
    assert.ok(copy);
  });

  it('config set releases the serving build with the new value, without a build and without a failed request; NODE_ENV stays', async () => {
    assert.equal((await d.get('conf')).body, 'v1 greeting=- node_env=production\n');
    const { result: set, answers } = await answersWhile('conf', d.dormant('config', 'set', 'conf', 'GREETING=hello world', 'OTHER=x'));
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stderr, /Setting GREETING, OTHER on conf/);
    assert.match(set.stderr, /-----> Set GREETING, OTHER: releasing the build of conf-00001 \([0-9a-f]{7}\) as conf-00002/);
    assert.doesNotMatch(set.stderr, /Building|npm/, 'no build');
    assert.match(set.stdout, /Released v2 \(conf-00002\) of conf with the new config: http:\/\/conf\.localhost:\d+/);
    assert.ok(answers.length > 0 && answers.every((a) => a.status === 200), `answers during the release: ${answers.map((a) => a.status).join(',')}`);
    assert.equal((await d.get('conf')).body, 'v1 greeting=hello world node_env=production\n');

    const [latest] = await releases('conf');
    assert.equal(latest?.metadata.name, 'conf-00002');
    assert.deepEqual({ ...latest?.spec.change, by: undefined }, { kind: 'config', description: 'Set GREETING, OTHER', from: 'conf-00001', by: undefined });
    assert.match(latest?.spec.change?.by ?? '', /@.* \(dormant CLI\)$/);
    assert.deepEqual(latest?.spec.run.env, { NODE_ENV: '********', GREETING: '********', OTHER: '********' }, 'values masked in listings');
    assert.equal(latest?.status?.steps.find((step) => step.name === 'build')?.state, 'skipped');
    const table = (await d.dormant('releases', 'conf')).stdout;
    assert.match(table, /^\* +v2 +conf-00002 +Set GREETING, OTHER +\S+@/m);
    assert.match(table, /^ +v1 +conf-00001 +Deploy [0-9a-f]{7} +SHA256:/m);
  });

  it('config lists masked values, --reveal and config get show them, unset releases the removal', async () => {
    const listed = await d.dormant('config', 'conf');
    assert.match(listed.stdout, /^GREETING +\*{8}$/m);
    assert.doesNotMatch(listed.stdout, /hello world/);
    assert.match((await d.dormant('config', 'conf', '--reveal')).stdout, /^GREETING +hello world$/m);
    assert.deepEqual(JSON.parse((await d.dormant('config', 'conf', '--reveal', '-o', 'json')).stdout), { GREETING: 'hello world', OTHER: 'x' });
    assert.equal((await d.dormant('config', 'get', 'conf', 'GREETING')).stdout, 'hello world\n');
    const unset = await d.dormant('config:unset', 'conf', 'GREETING', 'NEVER_SET');
    assert.equal(unset.code, 0, unset.stderr);
    assert.match(unset.stdout, /Released v3/);
    assert.equal((await d.get('conf')).body, 'v1 greeting=- node_env=production\n');
    const missing = await d.dormant('config', 'get', 'conf', 'GREETING');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /error \[CLI_CONFIG_NOT_SET\]: conf has no config var GREETING/);
  });

  it('--no-restart stages a change: nothing is released, the next push takes it', async () => {
    const before = (await releases('conf')).length;
    const staged = await d.dormant('config', 'set', 'conf', 'GREETING=staged', '--no-restart');
    assert.equal(staged.code, 0, staged.stderr);
    assert.match(staged.stdout, /Staged on conf: the next deploy/);
    assert.equal((await releases('conf')).length, before);
    assert.equal((await d.get('conf')).body, 'v1 greeting=- node_env=production\n');
    await copy.commit(envApp('v2'));
    const pushed = await copy.push(d.remote('conf'));
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.equal((await d.get('conf')).body, 'v2 greeting=staged node_env=production\n');
  });

  it('refuses what is not config, naming why, and changes nothing', async () => {
    const before = await d.dormant('config', 'conf', '--reveal', '-o', 'json');
    for (const [args, message] of [
      [['config', 'set', 'conf', 'PORT=1'], /error \[CLI_CONFIG_RESERVED\]: PORT is set by Dormant/],
      [['config', 'set', 'conf', 'DORMANT_APP=x'], /error \[CLI_CONFIG_RESERVED\]: DORMANT_APP/],
      [['config', 'set', 'conf', '1BAD=x'], /error \[CLI_USAGE\]: "1BAD" is not a variable name/],
      [['config', 'set', 'conf', 'NOVALUE'], /error \[CLI_USAGE\]: "NOVALUE" is not KEY=VALUE/],
      [['config', 'set', 'conf', `BIG=${'x'.repeat(40 * 1024)}`], /error \[CLI_USAGE\]: the value of BIG is over 32 KiB/],
      [['config', 'set', 'nope', 'A=1'], /error \[STORE_NOT_FOUND\]: App "nope" does not exist/],
    ] as const) {
      const result = await d.dormant(...args);
      assert.notEqual(result.code, 0, args.join(' '));
      assert.match(result.stderr, message);
    }
    assert.equal((await d.dormant('config', 'conf', '--reveal', '-o', 'json')).stdout, before.stdout);
  });
});

describe('rollback', () => {
  let copy: WorkingCopy;
  before(async () => {
    const pushed = await pushNewApp(d, 'back', envApp('one'));
    assert.equal(pushed.pushed.code, 0, pushed.pushed.stderr);
    copy = pushed.copy;
    assert.equal((await d.dormant('config', 'set', 'back', 'GREETING=first')).code, 0);
    await copy.commit(envApp('two'));
    assert.equal((await copy.push(d.remote('back'))).code, 0);
    assert.equal((await d.dormant('config', 'set', 'back', 'GREETING=second')).code, 0);
    assert.equal((await d.get('back')).body, 'two greeting=second node_env=production\n');
  });

  it('rolls back to the previous release by default, without a build and without a failed request, and brings back its config', async () => {
    // v4 serves (two, second); the previous is v3 (two, first).
    const { result, answers } = await answersWhile('back', d.dormant('rollback', 'back'));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /-----> Rollback to v3: releasing the build of back-00003/);
    assert.doesNotMatch(result.stderr, /Building|npm/);
    assert.match(result.stdout, /Rolled back back: v5 \(back-00005\) serves at http:\/\/back\.localhost:\d+/);
    assert.ok(answers.length > 0 && answers.every((a) => a.status === 200), `answers during the rollback: ${answers.map((a) => a.status).join(',')}`);
    assert.equal((await d.get('back')).body, 'two greeting=first node_env=production\n');
    assert.equal((await d.dormant('config', 'get', 'back', 'GREETING')).stdout, 'first\n', 'the config of v3 is the app’s again');
  });

  it('after a deliberately broken deploy, rollback APP v1 restores the old answers without a build', async () => {
    await copy.commit(envApp('broken', 500));
    assert.equal((await copy.push(d.remote('back'))).code, 0, 'a release that answers 500 still starts');
    assert.equal((await d.get('back')).status, 500);
    const result = await d.dormant('releases:rollback', 'back', 'v1');
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /Building|npm/);
    const answer = await d.get('back');
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'one greeting=- node_env=production\n');
    const [latest] = await releases('back');
    assert.deepEqual({ kind: latest?.spec.change?.kind, description: latest?.spec.change?.description, from: latest?.spec.change?.from }, { kind: 'rollback', description: 'Rollback to v1', from: 'back-00001' });
  });

  it('refuses a release that does not exist or never served, and keeps serving', async () => {
    const count = (await releases('back')).length;
    const unknown = await d.dormant('rollback', 'back', 'v99');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /error \[GITD_NO_SUCH_RELEASE\]: back has no release "v99"; dormant releases back lists them \(v1 to v\d+\)/);
    await copy.commit({ 'server.js': 'process.exit(3)\n' });
    const failed = await copy.push(d.remote('back'));
    assert.notEqual(failed.code, 0);
    const failedVersion = `v${count + 1}`;
    const never = await d.dormant('rollback', 'back', failedVersion);
    assert.equal(never.code, 1);
    assert.match(never.stderr, new RegExp(`error \\[GITD_RELEASE_NOT_RUNNABLE\\]: ${failedVersion} cannot be rolled back to: it never served \\(Failed`));
    assert.equal((await d.get('back')).body, 'one greeting=- node_env=production\n');
    assert.equal((await releases('back')).length, count + 1, 'only the failed push added one');
  });

  it('releases APP vN shows one release: what made it, its steps with their times, and what its push said; a refused push keeps its log too', async () => {
    const first = await d.dormant('releases', 'back', 'v1');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^v1 \(back-00001\) of back: Ready/);
    assert.match(first.stdout, /^build +succeeded +(< 1 s|\d+ s|\d+\.\d\d s)( |$)/m);
    assert.match(first.stdout, /^Build log:\n-----> /m);
    assert.match(first.stdout, /-----> Deployed back-00001 to http:\/\/back\.localhost:\d+/);
    const list = await releases('back');
    const failed = list.find((r) => r.status?.phase === 'Failed');
    assert.ok(failed);
    const refused = JSON.parse((await d.dormant('revisions', 'back', failed.metadata.name, '-o', 'json')).stdout) as { steps: { name: string; state: string }[]; buildLog: string | null };
    assert.ok(refused.steps.some((step) => step.state === 'failed'));
    assert.match(refused.buildLog ?? '', /-----> Rejected: /);
    const rolled = list.find((r) => r.spec.change?.kind === 'rollback');
    assert.ok(rolled);
    const rollback = await d.dormant('releases', 'back', `v${releaseNumberOf(rolled.metadata.name)}`);
    assert.match(rollback.stdout, /change: +Rollback to v1/);
    const unknown = await d.dormant('releases', 'back', 'v99');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /GITD_NO_SUCH_RELEASE/);
  });

  it('logs interleave the platform’s events with the app’s lines: deploys, releases, scaling, cold starts, crashes; --source picks one', async () => {
    const all = await d.dormant('logs', 'back');
    assert.equal(all.code, 0, all.stderr);
    const platform = (await d.dormant('logs', 'back', '--source', 'platform')).stdout;
    for (const event of [
      /\[dormant\] Deploy [0-9a-f]{7} from main by SHA256:\S+ \(admin\): building back-00001$/m,
      /\[dormant\] Release v1 \(back-00001\) serves: Deploy [0-9a-f]{7} \(\d+\.\d s\)$/m,
      /\[dormant\] Set GREETING by \S+@\S+ \(dormant CLI\): releasing the build of back-00001 as back-00002$/m,
      /\[dormant\] Rollback to v3 by .*: releasing the build of back-00003 as back-00005$/m,
      /\[dormant\] Replica back-\d{5}-\w+ of back-\d{5} ready in \d+ ms/m,
      /\[dormant\] Scaling from \d to \d replicas?: /m,
      /\[dormant\] Replica back-\d{5}-\w+ crashed: it exited with code 3; restarting in \d+ ms \(back-off, failure 1 in a row\)$/m,
      /\[dormant\] Deploy [0-9a-f]{7} from main by .*: rejected \(deploy failed: /m,
    ]) {
      assert.match(platform, event);
    }
    const app = (await d.dormant('logs', 'back', '--source', 'app')).stdout;
    assert.doesNotMatch(app, /\[dormant\]/);
    assert.ok(all.stdout.length >= platform.length + app.length - 2, 'the whole log has both');
    const bad = await d.dormant('logs', 'back', '--source', 'builds');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--source builds is not app or platform/);
  });

  it('the release endpoint refuses a request without the admin token, and a body that is not a release request', async () => {
    const url = `http://127.0.0.1:${d.metricsPort}/apps/back/releases`;
    const serving = (await d.get('back')).body;
    const count = (await releases('back')).length;
    const anonymous = await fetch(url, { method: 'POST', body: '{"kind":"rollback"}' });
    assert.equal(anonymous.status, 401);
    const { readFile } = await import('node:fs/promises');
    const token = (await readFile(`${d.stateDir}/admin-token`, 'utf8')).trim();
    const headers = { authorization: `Bearer ${token}` };
    for (const [body, status, message] of [
      ['not json', 400, /the body is not JSON/],
      ['{"kind":"delete"}', 400, /"kind" must be "config", "rollback" or "restart"/],
      ['{"kind":"config","set":["1x"]}', 400, /"set" must be an object of variables and their values/],
      ['{"kind":"config","set":{"PORT":"1"}}', 400, /"set" names "PORT", which is not a variable of the app's config/],
      ['{"kind":"rollback","to":"../../etc"}', 400, /"to" must be a release such as v3/],
      [JSON.stringify({ kind: 'rollback', by: 'x'.repeat(1100 * 1024) }), 413, /larger than 1 MiB/],
    ] as const) {
      const answer = await fetch(url, { method: 'POST', headers, body });
      assert.equal(answer.status, status, body.slice(0, 40));
      const { error } = JSON.parse(await answer.text()) as { error: { code: string; message: string } };
      assert.equal(error.code, 'GITD_RELEASE_INVALID');
      assert.match(error.message, message);
    }
    assert.equal((await d.get('back')).body, serving);
    assert.equal((await releases('back')).length, count);
  });
});

describe('restart, scale, stop and start', () => {
  /** Answers an id of its own, drawn when it starts: a new replica answers another. */
  const replicaApp = {
    'package.json': JSON.stringify({ name: 'replica-id', version: '1.0.0', scripts: { start: 'node server.js' } }),
    'server.js': "const id = require('node:crypto').randomUUID();\nrequire('node:http').createServer((q, s) => s.end(id)).listen(process.env.PORT);\n",
  };
  before(async () => {
    const { pushed } = await pushNewApp(d, 'procs', replicaApp);
    assert.equal(pushed.code, 0, pushed.stderr);
  });

  it('scale sets the bounds (min=1 keeps one replica), and refuses max=0 for stop', async () => {
    const scaled = await d.dormant('ps:scale', 'procs', 'min=1', 'max=3');
    assert.equal(scaled.code, 0, scaled.stderr);
    assert.match(scaled.stdout, /^minScale +1 +app$/m);
    assert.match(scaled.stdout, /^maxScale +3 +app$/m);
    const zero = await d.dormant('scale', 'procs', 'max=0');
    assert.equal(zero.code, 2);
    assert.match(zero.stderr, /max=0 would leave a request nothing to wake; to serve nothing, use dormant stop APP/);
    const bad = await d.dormant('scale', 'procs', 'replicas=2');
    assert.match(bad.stderr, /"replicas=2" is not min=N, max=N or max- \(Dormant scales each app between bounds by its requests: to keep 2 running, dormant scale APP min=2\)/);
  });

  it('restart replaces the replica under a steady stream, none failed', async () => {
    const before = (await d.get('procs')).body;
    const { result, answers } = await answersWhile('procs', d.dormant('restart', 'procs'));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Restarted procs: v2 \(procs-00002\)/);
    assert.ok(answers.length > 0 && answers.every((a) => a.status === 200), `answers during the restart: ${answers.map((a) => a.status).join(',')}`);
    const after = (await d.get('procs')).body;
    assert.notEqual(after, before, 'a new replica answers');
    assert.match(after, /^[0-9a-f-]{36}$/);
    const [latest] = await releases('procs');
    assert.equal(latest?.spec.change?.description, 'Restart');
  });

  it('ps lists the replica: its release, state, uptime, requests in flight, memory and CPU; apps info shows the app whole', async () => {
    const listed = await d.dormant('ps', 'procs');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^ID +RELEASE +STATE +UPTIME +IN-FLIGHT +MEMORY +CPU$/m);
    assert.match(listed.stdout, /^procs-00002-\S+ +v2 +ready +\d+s +0 +\d+ MiB +\d+\.\d\ds$/m);
    const rows = JSON.parse((await d.dormant('ps', 'procs', '-o', 'json')).stdout) as { release: string; state: string; inFlight: number; memoryBytes: number | null }[];
    assert.equal(rows.filter((row) => row.state === 'ready').length, 1);
    assert.ok((rows[0]?.memoryBytes ?? 0) > 1024 * 1024, 'the replica’s cgroup counts its memory');

    // A new app at zero: its first request is a cold start, counted for apps info.
    const { pushed } = await pushNewApp(d, 'sleepy', replicaApp);
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.equal((await d.get('sleepy')).status, 200);
    const info = await d.dormant('apps', 'info', 'sleepy');
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /^=== sleepy$/m);
    assert.match(info.stdout, /^URL: +http:\/\/sleepy\.localhost:\d+$/m);
    assert.match(info.stdout, /^Release: +v1 \(sleepy-00001\) Deploy [0-9a-f]{7} by SHA256:\S+ \(admin\), \d+s ago$/m);
    assert.match(info.stdout, /^Build: +auto, docker\.io\/library\/node:26-slim/m);
    assert.match(info.stdout, /^Policy: +target 100 concurrency, minScale 0, maxScale unlimited, scale to zero after 30s$/m);
    assert.match(info.stdout, /^Cold starts: +1 requests waited for a wake-up in the last hour \(p50 \d+ ms, p99 \d+ ms\)$/m);
    const json = JSON.parse((await d.dormant('apps', 'info', 'procs', '-o', 'json')).stdout) as { release: { version: string }; policy: { minScale: number; maxScale: number }; replicas: unknown[] };
    assert.deepEqual([json.release.version, json.policy.minScale, json.policy.maxScale, json.replicas.length], ['v2', 1, 3, 1]);
  });

  it('stop answers 503 at once saying the app is stopped; start makes it answer again', async () => {
    const stopped = await d.dormant('stop', 'procs');
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stdout, /Stopped procs: it serves nothing until dormant start procs/);
    // The activator follows the App's watch.
    let answer = await d.get('procs');
    for (let tries = 0; answer.status !== 503 && tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      answer = await d.get('procs');
    }
    assert.equal(answer.status, 503);
    assert.match(answer.body, /procs is stopped by its owner, and serves nothing until it is started again \(dormant start procs\)/);
    assert.match((await d.dormant('stop', 'procs')).stdout, /procs is stopped already/);
    for (let i = 0; i < 5; i++) assert.equal((await d.get('procs')).status, 503);
    // Its replica goes at the autoscaler's next decision, after a drain.
    let listed = '';
    for (let tries = 0; tries < 60 && !/has no replicas/.test(listed); tries++) {
      listed = (await d.dormant('ps', 'procs')).stdout;
      if (!/has no replicas/.test(listed)) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.match(listed, /procs has no replicas: it is stopped, and serves nothing until dormant start procs/);
    const started = await d.dormant('start', 'procs');
    assert.match(started.stdout, /Started procs/);
    for (let tries = 0; answer.status !== 200 && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      answer = await d.get('procs');
    }
    assert.equal(answer.status, 200);
    // Said as what it was; and the 503s answered while stopped never counted as load (not even below zero).
    const events = (await d.dormant('logs', 'procs', '--source', 'platform')).stdout;
    assert.match(events, /Scaling from 1 to 0 replicas: stopped by its owner \(dormant stop\)/);
    assert.doesNotMatch(events, /-\d+(\.\d+)? concurrent/);
  });
});
