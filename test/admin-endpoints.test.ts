// The metrics port of a real `dormant up`: a request can no longer end it (a malformed
// percent-escape in /trace/APP killed it and every replica), and what is beyond /metrics,
// /healthz and /readyz needs the admin token that dormant up writes to its state folder.
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DormantUp, nodeApp, startDormant, WorkingCopy } from './git-support.js';
import { type HttpAnswer, httpGet } from './http-support.js';

let d: DormantUp;
let token: string;
before(async () => {
  d = await startDormant([], { metrics: true });
  token = (await readFile(join(d.stateDir, 'admin-token'), 'utf8')).trim();
  const copy = await WorkingCopy.create(d.work, 'hello', d.adminKey);
  await copy.commit(nodeApp('v1'), 'v1');
  const pushed = await copy.push(d.remote('hello'));
  assert.equal(pushed.code, 0, pushed.stderr);
});
after(async () => {
  await d?.stop();
});

/** One request to the metrics port; a streamed answer (a trace) is cut after its first chunk. */
const admin = (path: string, headers: Record<string, string> = {}): Promise<HttpAnswer> => httpGet(d.metricsPort, path, headers);

const bearer = () => ({ authorization: `Bearer ${token}` });

/** dormant up still runs and the app still answers. */
async function stillServing(): Promise<void> {
  assert.doesNotThrow(() => process.kill(d.pid, 0), 'dormant up is gone');
  assert.equal((await admin('/healthz')).status, 200);
  const app = await d.get('hello');
  assert.equal(app.status, 200, app.body);
  assert.equal(app.body, 'v1\n');
}

describe('a bad request on the metrics port is answered, and dormant up keeps running', () => {
  it('a malformed percent-escape in /trace/APP is answered 400 CLI_ADMIN_BAD_PATH; dormant up and its app keep serving', async () => {
    const answer = await admin('/trace/%E0%A4%A', bearer());
    assert.equal(answer.status, 400);
    assert.equal(answer.headers['x-dormant-error'], 'CLI_ADMIN_BAD_PATH');
    assert.match(answer.body, /^error \[CLI_ADMIN_BAD_PATH\]: the path "\/trace\/%E0%A4%A" is not valid percent-encoding; encode the app name with encodeURIComponent/);
    await stillServing();
  });

  it('an app name the store refuses (a path traversal) is answered with the store error and its status, 422 STORE_INVALID', async () => {
    const answer = await admin('/trace/..%2F..%2Fetc', bearer());
    assert.equal(answer.status, 422, answer.body);
    assert.equal(answer.headers['x-dormant-error'], 'STORE_INVALID');
    assert.match(answer.body, /^error \[STORE_INVALID\]: .*"\.\.\/\.\.\/etc" is not a valid name/s);
    await stillServing();
  });
});

describe('the admin endpoints need the admin token', () => {
  it('dormant up writes a random token to STATE/admin-token, readable by its user only', async () => {
    const info = await stat(join(d.stateDir, 'admin-token'));
    assert.equal(info.mode & 0o777, 0o600);
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  });

  it('a second dormant up on the same state folder, refused, leaves the running one\'s token as it is', async () => {
    const second = await d.dormant('up', '--http-port', '0', '--ssh-port', '0', '--metrics-port', '0');
    assert.equal(second.code, 1);
    assert.match(second.stderr, /CLI_ALREADY_RUNNING/);
    assert.equal((await readFile(join(d.stateDir, 'admin-token'), 'utf8')).trim(), token);
  });

  const refused = [
    { name: 'no Authorization header', headers: {} },
    { name: 'an empty Bearer', headers: { authorization: 'Bearer ' } },
    { name: 'a wrong token of the same length', headers: { authorization: `Bearer ${'A'.repeat(43)}` } },
    { name: 'Basic credentials', headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } },
  ];
  for (const row of refused) {
    it(`/trace/hello with ${row.name} is answered 401 CLI_ADMIN_UNAUTHORIZED naming the token file`, async () => {
      const answer = await admin('/trace/hello', row.headers);
      assert.equal(answer.status, 401);
      assert.equal(answer.headers['x-dormant-error'], 'CLI_ADMIN_UNAUTHORIZED');
      assert.equal(answer.headers['www-authenticate'], 'Bearer realm="dormant"');
      assert.ok(answer.body.includes(`send "Authorization: Bearer TOKEN" with the token in ${join(d.stateDir, 'admin-token')}`), answer.body);
      assert.equal(answer.body.includes(token), false, 'the answer does not give the token away');
    });
  }

  it('any other path beyond /metrics, /healthz and /readyz needs it too: 401 without, 404 with', async () => {
    assert.equal((await admin('/debug')).status, 401);
    assert.equal((await admin('/trace/')).status, 401);
    assert.equal((await admin('/debug', bearer())).status, 404);
  });

  it('with the token, /trace/hello streams the request log', async () => {
    const answer = await admin('/trace/hello', bearer());
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'text/csv');
    assert.match(answer.body, /^seconds,duration_seconds,status\n/);
  });

  it('/metrics, /healthz and /readyz stay open to Prometheus and kubelet probes', async () => {
    const metrics = await admin('/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^dormant_component_up\{component="activator"\} 1$/m);
    assert.deepEqual([(await admin('/healthz')).status, (await admin('/readyz')).status], [200, 200]);
  });

  it('the metrics port listens on loopback only by default', async () => {
    // Read from the kernel's socket table: test traffic stays on 127.0.0.0/8.
    const table = await readFile('/proc/net/tcp', 'utf8');
    const portHex = d.metricsPort.toString(16).toUpperCase().padStart(4, '0');
    const listening = table.split('\n').filter((line) => line.trim().split(/\s+/)[1]?.endsWith(`:${portHex}`) && line.trim().split(/\s+/)[3] === '0A');
    assert.deepEqual(
      listening.map((line) => line.trim().split(/\s+/)[1]),
      [`0100007F:${portHex}`],
    );
  });

  it('dormant trace sends the token; with a token file from another start it is refused with CLI_ADMIN_UNAUTHORIZED', async () => {
    // What a process gets that read the file of an earlier start, or of another state folder.
    await writeFile(join(d.stateDir, 'admin-token'), `${'B'.repeat(43)}\n`);
    try {
      const traced = await d.dormant('trace', 'hello', '--for', '1s');
      assert.equal(traced.code, 1);
      assert.match(traced.stderr, /error \[CLI_ADMIN_UNAUTHORIZED\]: the admin endpoints of dormant up's metrics port/);
    } finally {
      await writeFile(join(d.stateDir, 'admin-token'), `${token}\n`, { mode: 0o600 });
    }
    const traced = await d.dormant('trace', 'hello', '--for', '1s');
    assert.equal(traced.code, 0, traced.stderr);
    assert.match(traced.stdout, /^seconds,duration_seconds,status\n/);
  });
});
