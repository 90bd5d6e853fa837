// ACME for real (issue 21): Let's Encrypt's test server pebble, built from its Go module
// (hack/pebble.sh), with pebble-challtestsrv answering its DNS with 127.0.0.1, issues
// certificates by HTTP-01 to a dormant up whose apps turn ACME on; curl verifies what the
// HTTPS listener serves against pebble's root, and a failed order is said and retried.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pebbleConfig } from '../tls/test-support.js';
import { type DormantUp, freePort, pushNewApp, runProgram, startDormant, waitForPort } from './git-support.js';

const repo = new URL('..', import.meta.url).pathname;
let d: DormantUp;
let httpsPort: number;
let pebbleDir: string;
const ports = { dns: 0, dnsManagement: 0, acme: 0, acmeManagement: 0 };
const children: ChildProcess[] = [];
const output: string[] = [];

function startProgram(program: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(program, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  children.push(child);
  return child;
}

const curl = (...args: string[]) => runProgram('curl', ['-sS', '--max-time', '10', ...args]);

async function curlHttps(host: string, caFile: string): Promise<{ code: number; body: string; stderr: string }> {
  const result = await curl('--cacert', caFile, '--resolve', `${host}:${httpsPort}:127.0.0.1`, `https://${host}:${httpsPort}/`);
  return { code: result.code, body: result.stdout, stderr: result.stderr };
}

const certsJson = async (app: string) => JSON.parse((await d.dormant('certs', app, '-o', 'json')).stdout) as { acme: boolean; certificates: { name: string; source: string; hosts: string[] }[]; acmePending: string[] };

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms; pebble said:\n${output.join('').slice(-3000)}\ndormant up said:\n${d.logs().slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

before(async () => {
  pebbleDir = execFileSync('bash', [join(repo, 'hack/pebble.sh')], { encoding: 'utf8' }).trim().split('\n').at(-1) ?? '';
  for (const name of Object.keys(ports) as (keyof typeof ports)[]) ports[name] = await freePort();
  // DNS for every name: 127.0.0.1 (no AAAA: pebble would try ::1 first, where nothing listens).
  startProgram(join(pebbleDir, 'pebble-challtestsrv'), ['-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', '-dnsserver', `127.0.0.1:${ports.dns}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-doh', '', '-management', `127.0.0.1:${ports.dnsManagement}`]);
  const minica = join(pebbleDir, 'minica.pem');
  d = await startDormant(['--domain', 'apps.test', '--https-port', '0', '--acme-directory', `https://127.0.0.1:${ports.acme}/dir`, '--acme-ca', minica]);
  httpsPort = (JSON.parse(await readFile(join(d.stateDir, 'up.json'), 'utf8')) as { httpsPort: number }).httpsPort;
  // pebble checks HTTP-01 answers at this port of the host's address: dormant up's HTTP port.
  const config = join(d.work, 'pebble.json');
  await writeFile(config, pebbleConfig({ pebbleDir, acmePort: ports.acme, managementPort: ports.acmeManagement, httpPort: d.httpPort, tlsPort: await freePort() }));
  startProgram(join(pebbleDir, 'pebble'), ['-config', config, '-dnsserver', `127.0.0.1:${ports.dns}`], { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' });
  await waitForPort(ports.dns);
  await waitForPort(ports.acme);
  const { pushed } = await pushNewApp(d, 'shop', {
    'package.json': JSON.stringify({ name: 'shop', version: '1.0.0', scripts: { start: 'node server.js' } }),
    'server.js': "require('node:http').createServer((q, s) => s.end('shop ' + q.headers['x-forwarded-proto'] + '\\n')).listen(process.env.PORT);\n",
  });
  assert.equal(pushed.code, 0, pushed.stderr);
});

after(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }
  await d?.stop();
});

describe('ACME (pebble)', () => {
  it('certs auto:enable gets certificates for the app\'s address and its domain, which curl verifies against pebble\'s root', async (t) => {
    assert.equal((await d.dormant('domains', 'add', 'shop', 'www.shop.test')).code, 0);
    const enabled = await d.dormant('certs', 'auto:enable', 'shop');
    assert.equal(enabled.code, 0, enabled.stderr);
    assert.match(enabled.stdout, /ACME is on for shop\. Certificates are ordered for shop\.apps\.test, www\.shop\.test/);
    const issued = await until('pebble did not issue both certificates', async () => {
      const listed = await certsJson('shop');
      return listed.certificates.length === 2 ? listed : undefined;
    });
    assert.deepEqual(issued.certificates.map((c) => `${c.name} ${c.source} ${c.hosts.join(',')}`).sort(), ['acme-shop.apps.test acme shop.apps.test', 'acme-www.shop.test acme www.shop.test']);
    assert.deepEqual(issued.acmePending, []);
    // pebble makes a new root each time it starts: fetched from its management port, trusting the CA of its own API certificate.
    const root = await curl('--cacert', join(pebbleDir, 'minica.pem'), `https://127.0.0.1:${ports.acmeManagement}/roots/0`);
    assert.match(root.stdout, /BEGIN CERTIFICATE/, root.stderr);
    const rootFile = join(d.work, 'pebble-root.pem');
    await writeFile(rootFile, root.stdout);
    for (const host of ['shop.apps.test', 'www.shop.test']) {
      const answer = await curlHttps(host, rootFile);
      assert.equal(answer.code, 0, `${host}: ${answer.stderr}`);
      assert.equal(answer.body, 'shop https\n');
    }
    const events = (await d.dormant('logs', 'shop', '--source', 'platform')).stdout;
    assert.match(events, /TLS certificate for shop\.apps\.test issued by ACME \(new, \d+ ms\)/);
    assert.match(events, /TLS certificate for www\.shop\.test issued by ACME/);
    t.diagnostic(`orders, from start to the certificate written: ${[...events.matchAll(/issued by ACME \(new, (\d+) ms\)/g)].map((m) => `${m[1]} ms`).join(', ')}`);
  });

  it('an order the CA cannot validate is said in the platform log and backed off; the app keeps its certificates', async () => {
    // The name resolves to a loopback address where nothing listens: pebble's check is refused.
    const pointed = await curl('-X', 'POST', '-d', JSON.stringify({ host: 'broken.shop.test', addresses: ['127.0.0.2'] }), `http://127.0.0.1:${ports.dnsManagement}/add-a`);
    assert.equal(pointed.code, 0, pointed.stderr);
    assert.equal((await d.dormant('domains', 'add', 'shop', 'broken.shop.test')).code, 0);
    await until('the failed order was not said', async () => {
      const events = (await d.dormant('logs', 'shop', '--source', 'platform')).stdout;
      return /TLS certificate for broken\.shop\.test not issued: .*TLS_ACME_FAILED|TLS certificate for broken\.shop\.test not issued/.test(events) ? events : undefined;
    });
    const events = (await d.dormant('logs', 'shop', '--source', 'platform')).stdout;
    assert.match(events, /broken\.shop\.test not issued: the ACME server did not issue a certificate for broken\.shop\.test: .*\(try 1; next in 5 min\)/);
    const listed = await certsJson('shop');
    assert.deepEqual(listed.acmePending, ['broken.shop.test']);
    assert.equal(listed.certificates.length, 2);
    assert.match((await d.dormant('certs', 'shop')).stdout, /ACME: on, waiting for broken\.shop\.test/);
    const root = await curl('--cacert', join(pebbleDir, 'minica.pem'), `https://127.0.0.1:${ports.acmeManagement}/roots/0`);
    const rootFile = join(d.work, 'pebble-root-2.pem');
    await writeFile(rootFile, root.stdout);
    assert.equal((await curlHttps('shop.apps.test', rootFile)).body, 'shop https\n');
  });
});
