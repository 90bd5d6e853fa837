// Domains and certificates through the real CLI (issue 21): hosts added to and removed from
// apps, a user's certificate served over HTTPS by SNI (checked by curl against the CA that
// made it), only for the hosts of the app it was added to, the redirect from HTTP, and every
// refusal leaving what was there. ACME against a real pebble is in acme.test.ts.
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { presentedNames, TestCa } from '../tls/test-support.js';
import { type DormantUp, pushNewApp, runProgram, startDormant } from './git-support.js';

let d: DormantUp;
let ca: TestCa;
let httpsPort: number;
const bin = new URL('../bin/dormant.js', import.meta.url).pathname;

/** An app answering its name, the scheme it was called with and the host. */
const echoApp = (name: string): Record<string, string> => ({
  'package.json': JSON.stringify({ name, version: '1.0.0', scripts: { start: 'node server.js' } }),
  'server.js': `require('node:http').createServer((q, s) => s.end(\`${name} \${q.headers['x-forwarded-proto']} \${q.headers.host}\\n\`)).listen(process.env.PORT);\n`,
});

/** curl over HTTPS to host at dormant up's HTTPS port, trusting only caFile: its status and body, or its error. */
async function curlHttps(host: string, caFile = ca.caFile, path = '/'): Promise<{ code: number; status: string; body: string; stderr: string }> {
  const result = await runProgram('curl', ['-sS', '--max-time', '10', '--cacert', caFile, '--resolve', `${host}:${httpsPort}:127.0.0.1`, '-w', '\n%{http_code}', `https://${host}:${httpsPort}${path}`]);
  const lines = result.stdout.split('\n');
  return { code: result.code, status: lines.at(-1) ?? '', body: lines.slice(0, -1).join('\n').replace(/\n$/, ''), stderr: result.stderr };
}

/** A plain HTTP request by curl: status, Location, body. */
async function curlHttp(host: string, path = '/'): Promise<{ status: string; location: string; body: string }> {
  const result = await runProgram('curl', ['-sS', '--max-time', '10', '-H', `Host: ${host}`, '-w', '\n%{http_code} %{redirect_url}', `http://127.0.0.1:${d.httpPort}${path}`]);
  const lines = result.stdout.split('\n');
  const [status = '', location = ''] = (lines.at(-1) ?? '').split(' ');
  return { status, location, body: lines.slice(0, -1).join('\n').replace(/\n$/, '') };
}

/**
 * curlHttps until its exit code is as wanted: dormant up reads a certificate the CLI wrote
 * within moments (it watches the folder), not before the CLI returns.
 */
async function untilHttps(host: string, served: boolean, caFile = ca.caFile): Promise<{ code: number; status: string; body: string; stderr: string }> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const answer = await curlHttps(host, caFile);
    if ((answer.code === 0) === served || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The subjectAltName of the certificate the HTTPS listener presents for a name (SNI), or the handshake's error. */
const presented = (servername: string): Promise<string> => presentedNames(httpsPort, servername);

async function untilHttp(host: string, path: string, done: (answer: { status: string; location: string; body: string }) => boolean): Promise<{ status: string; location: string; body: string }> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const answer = await curlHttp(host, path);
    if (done(answer) || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const certsJson = async (app: string) => JSON.parse((await d.dormant('certs', app, '-o', 'json')).stdout) as { certificates: { name: string; source: string; hosts: string[]; serves: string[] }[]; redirectHttp: boolean };

before(async () => {
  ca = new TestCa();
  d = await startDormant(['--https-port', '0'], { metrics: true });
  httpsPort = (JSON.parse(await readFile(join(d.stateDir, 'up.json'), 'utf8')) as { httpsPort: number }).httpsPort;
  assert.ok(httpsPort > 0);
  for (const app of ['shop', 'rival']) {
    const { pushed } = await pushNewApp(d, app, echoApp(app));
    assert.equal(pushed.code, 0, pushed.stderr);
  }
});
after(async () => {
  await d?.stop();
  ca?.remove();
});

describe('domains', () => {
  it('adds a host an app is then served at, lists it, and removes it', async () => {
    const added = await d.dormant('domains', 'add', 'shop', 'Shop.Example.COM.');
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /Added shop\.example\.com to shop: http:\/\/shop\.example\.com:\d+/);
    assert.equal((await curlHttp('shop.example.com')).body, 'shop http shop.example.com');
    assert.equal((await d.dormant('domains:add', 'shop', 'tmp.example.com')).code, 0);
    const listed = JSON.parse((await d.dormant('domains', 'shop', '-o', 'json')).stdout) as { hosts: { host: string; kind: string }[] };
    assert.deepEqual(listed.hosts.map((h) => `${h.host} ${h.kind}`), ['shop.localhost address', 'shop.example.com custom', 'tmp.example.com custom']);
    const removed = await d.dormant('domains', 'remove', 'shop', 'tmp.example.com');
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal((await curlHttp('tmp.example.com')).status, '404');
  });

  it("refuses another app's host, a reserved or malformed one, and its own address; nothing changes", async () => {
    const taken = await d.dormant('domains', 'add', 'rival', 'shop.example.com');
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /shop\.example\.com/);
    assert.match(taken.stderr, /\bshop\b/);
    for (const [host, pattern] of [
      ['127.0.0.1', /IP address/],
      ['localhost', /localhost/],
      ['http://evil.example.com/', /not a host name/],
      ['evil.example.com:443', /not a host name/],
      ['bad_name.example.com', /not a host name/],
    ] as const) {
      const refused = await d.dormant('domains', 'add', 'rival', host);
      assert.equal(refused.code, 2, `${host}: ${refused.stderr}`);
      assert.match(refused.stderr, pattern, host);
    }
    const own = await d.dormant('domains', 'remove', 'shop', 'shop.localhost');
    assert.equal(own.code, 2);
    assert.match(own.stderr, /own address/);
    const unknown = await d.dormant('domains', 'remove', 'shop', 'never.example.com');
    assert.match(unknown.stderr, /CLI_NO_SUCH_HOST/);
    assert.match((await d.dormant('domains', 'add', 'nosuch', 'a.example.com')).stderr, /STORE_NOT_FOUND/);
    assert.equal((await curlHttp('shop.example.com')).body, 'shop http shop.example.com', 'shop keeps its host');
    const rival = JSON.parse((await d.dormant('domains', 'rival', '-o', 'json')).stdout) as { hosts: { host: string }[] };
    assert.deepEqual(rival.hosts.map((h) => h.host), ['rival.localhost']);
  });
});

describe('certificates', () => {
  it('a certificate of the user is served over HTTPS for the hosts of its app, and the app is told https', async () => {
    const pair = ca.issue(['shop.example.com', 'shop.localhost']);
    const added = await d.dormant('certs', 'add', 'shop', pair.certificateFile, pair.keyFile);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, new RegExp(`Added certificate user-[0-9a-f]{12} to shop for shop\\.localhost, shop\\.example\\.com .*served on HTTPS port ${httpsPort}`));
    const answer = await untilHttps('shop.example.com', true);
    assert.equal(answer.code, 0, answer.stderr);
    assert.equal(answer.body, `shop https shop.example.com:${httpsPort}`);
    assert.equal((await curlHttps('shop.localhost')).body, `shop https shop.localhost:${httpsPort}`);
    const [listed] = (await certsJson('shop')).certificates;
    assert.equal(listed?.source, 'user');
    assert.deepEqual(listed?.serves, ['shop.localhost', 'shop.example.com']);
    assert.match((await d.dormant('domains', 'shop')).stdout, new RegExp(`shop\\.example\\.com +custom +https://shop\\.example\\.com:${httpsPort} +user-`));
  });

  it("never presents an app's certificate for another app's host, or for a host no app has", async () => {
    // rival adds a certificate naming shop's host too: it covers rival's own address, so it is accepted, and served for rival only.
    const sneaky = ca.issue(['rival.localhost', 'shop.example.com']);
    assert.equal((await d.dormant('certs', 'add', 'rival', sneaky.certificateFile, sneaky.keyFile)).code, 0);
    assert.equal((await untilHttps('rival.localhost', true)).body, `rival https rival.localhost:${httpsPort}`);
    // The certificate each name gets: shop's host is presented shop's (which names shop.localhost), never rival's.
    assert.equal(await presented('rival.localhost'), 'DNS:rival.localhost, DNS:shop.example.com');
    assert.equal(await presented('shop.example.com'), 'DNS:shop.example.com, DNS:shop.localhost');
    const unknown = await curlHttps('nobody.example.com');
    assert.notEqual(unknown.code, 0, 'an unknown host gets no certificate');
    assert.match(unknown.stderr, /handshake|alert|SSL/i);
    assert.match(await presented('nobody.example.com'), /^error: .*(handshake|alert)/i);
    assert.equal((await curlHttps('shop.example.com')).body, `shop https shop.example.com:${httpsPort}`);
  });

  it('refuses a certificate that covers none of the app\'s hosts, a key of another, a file that is not PEM; nothing changes', async () => {
    const before = await certsJson('shop');
    const elsewhere = ca.issue(['elsewhere.example.com']);
    const none = await d.dormant('certs', 'add', 'shop', elsewhere.certificateFile, elsewhere.keyFile);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /TLS_CERT_COVERS_NO_HOST.*dormant domains add shop HOST/);
    const one = ca.issue(['shop.example.com']);
    const mismatch = await d.dormant('certs', 'add', 'shop', one.certificateFile, elsewhere.keyFile);
    assert.match(mismatch.stderr, /TLS_KEY_MISMATCH/);
    const garbage = join(d.work, 'garbage.pem');
    await writeFile(garbage, 'not a certificate\n');
    assert.match((await d.dormant('certs', 'add', 'shop', garbage, one.keyFile)).stderr, /TLS_BAD_CERTIFICATE/);
    assert.match((await d.dormant('certs', 'add', 'shop', join(d.work, 'missing.pem'), one.keyFile)).stderr, /CLI_READ_INPUT.*no such file/);
    const huge = join(d.work, 'huge.pem');
    await writeFile(huge, 'x'.repeat(100_000));
    assert.match((await d.dormant('certs', 'add', 'shop', huge, one.keyFile)).stderr, /TLS_BAD_CERTIFICATE.*huge\.pem .*over 64 KiB/);
    assert.match((await d.dormant('certs', 'remove', 'shop', 'user-000000000000')).stderr, /TLS_NO_SUCH_CERT/);
    assert.match((await d.dormant('certs', 'redirect', 'shop', 'maybe')).stderr, /neither on nor off/);
    assert.deepEqual(await certsJson('shop'), before);
    assert.equal((await curlHttps('shop.example.com')).code, 0);
  });

  it('a tenant cannot read the certificates: the state folder is closed to its code', async () => {
    const files = await readdir(join(d.stateDir, 'certs', 'shop'));
    assert.equal(files.length, 1);
    const result = await runProgram(process.execPath, [bin, 'run', '--state-dir', d.stateDir, 'shop', '--', `cat ${join(d.stateDir, 'certs', 'shop', files[0] ?? '')}; echo done`]);
    assert.equal(result.stdout.trim(), 'done', result.stderr);
    assert.doesNotMatch(result.stdout, /PRIVATE KEY/);
  });

  it('redirects plain HTTP to HTTPS for hosts with a certificate only, and stops when turned off', async () => {
    assert.equal((await d.dormant('domains', 'add', 'shop', 'plain.example.com')).code, 0);
    const on = await d.dormant('certs', 'redirect', 'shop', 'on');
    assert.equal(on.code, 0, on.stderr);
    // dormant up follows the App's change within moments of the CLI's return.
    const redirected = await untilHttp('shop.example.com', '/cart?id=7', (answer) => answer.status === '308');
    assert.equal(redirected.status, '308');
    assert.equal(redirected.location, `https://shop.example.com:${httpsPort}/cart?id=7`);
    // A host of shop that no certificate covers is not sent to a handshake that would fail; rival has no redirect.
    assert.equal((await curlHttp('plain.example.com')).body, 'shop http plain.example.com');
    assert.equal((await curlHttp('rival.localhost')).body, 'rival http rival.localhost');
    assert.equal((await d.dormant('certs', 'redirect', 'shop', 'off')).code, 0);
    assert.equal((await untilHttp('shop.example.com', '/', (answer) => answer.status === '200')).body, 'shop http shop.example.com');
  });

  it("a connection made for one app's name carries no request for another app (421)", async () => {
    const result = await runProgram('curl', ['-sS', '--max-time', '10', '--cacert', ca.caFile, '--resolve', `shop.example.com:${httpsPort}:127.0.0.1`, '-H', 'Host: rival.localhost', '-w', '\n%{http_code}', `https://shop.example.com:${httpsPort}/`]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /made for shop\.example\.com, which is another app's[\s\S]*\n421$/);
    // The same connection name with the same app's other host is that app's.
    const same = await runProgram('curl', ['-sS', '--max-time', '10', '--cacert', ca.caFile, '--resolve', `shop.example.com:${httpsPort}:127.0.0.1`, '-H', 'Host: plain.example.com', `https://shop.example.com:${httpsPort}/`]);
    assert.equal(same.stdout, 'shop https plain.example.com\n');
  });

  it('a removed certificate is no longer served; an app deleted and made again under its name gets none of the old ones', async () => {
    const [listed] = (await certsJson('rival')).certificates;
    assert.ok(listed);
    const removed = await d.dormant('certs:remove', 'rival', listed.name);
    assert.equal(removed.code, 0, removed.stderr);
    assert.notEqual((await untilHttps('rival.localhost', false)).code, 0);

    assert.equal((await d.dormant('apps', 'delete', 'shop', '--confirm', 'shop')).code, 0);
    assert.equal((await d.dormant('apps', 'create', 'shop')).code, 0);
    assert.deepEqual((await certsJson('shop')).certificates, []);
    const again = await untilHttps('shop.localhost', false);
    assert.notEqual(again.code, 0, 'the new shop has no certificate');
  });
});
