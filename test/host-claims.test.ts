// Hosts cannot be stolen, against a real `dormant up --domain apps.localhost`: a claim by
// `dormant apply` or a first git push on a host another app has, or on one Dormant keeps,
// is refused naming the owner, and the owner keeps answering at its hosts.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DormantUp, nodeApp, startDormant, WorkingCopy } from './git-support.js';

let d: DormantUp;
before(async () => {
  d = await startDormant(['--domain', 'apps.localhost']);
});
after(async () => {
  await d?.stop();
});

function get(port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function applyApp(name: string, hosts: string[]) {
  const file = join(d.work, `${name}-${hosts.length}.yaml`);
  await writeFile(file, `apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: ${name}}\nspec:\n  routes: {hosts: [${hosts.join(', ')}]}\n`);
  return d.dormant('apply', '-f', file);
}

describe('dormant up: hosts are one app’s each', () => {
  it('apply and a first push are refused on a taken or reserved host, naming the owner; the owner keeps serving', async () => {
    const shop = await WorkingCopy.create(d.work, 'shop', d.adminKey);
    await shop.commit(nodeApp('shop v1'), 'v1');
    const pushed = await shop.push(d.remote('shop'));
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.deepEqual(await get(d.httpPort, 'shop.apps.localhost'), { status: 200, body: 'shop v1' });

    const stolen = await applyApp('thief', ['shop.apps.localhost']);
    assert.equal(stolen.code, 1);
    assert.match(stolen.stderr, /^error \[STORE_HOST_TAKEN\]: App "thief" cannot claim host shop\.apps\.localhost: it is the address of app shop/);
    const bare = await applyApp('thief', ['apps.localhost']);
    assert.equal(bare.code, 1);
    assert.match(bare.stderr, /^error \[STORE_HOST_RESERVED\]: App "thief" cannot claim host apps\.localhost: it is the bare domain/);

    assert.equal((await applyApp('site', ['www.apps.localhost'])).code, 0);
    const www = await WorkingCopy.create(d.work, 'www', d.adminKey);
    await www.commit(nodeApp('www v1'), 'v1');
    const refused = await www.push(d.remote('www'));
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /App "www" cannot be served at its address www\.apps\.localhost: app site lists that host in spec\.routes\.hosts/);

    const apps = JSON.parse((await d.dormant('apps', '-o', 'json')).stdout) as { name: string }[];
    assert.deepEqual(apps.map((a) => a.name).sort(), ['shop', 'site'], 'no thief, no www');
    assert.deepEqual(await get(d.httpPort, 'shop.apps.localhost'), { status: 200, body: 'shop v1' }, 'shop keeps serving at its address');
  });
});
