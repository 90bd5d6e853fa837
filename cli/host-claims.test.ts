// `dormant apply` and `dormant apps create` refuse a host another app has or Dormant keeps,
// naming the owner, and leave every app as it was. Real state folder.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LocalStore } from '../runtime/index.js';
import { runCli, tempStateDir } from './test-support.js';

const appDoc = (name: string, hosts: string[]) => `apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: ${name}}\nspec:\n  routes: {hosts: [${hosts.join(', ')}]}\n`;

async function hostsOf(stateDir: string): Promise<Record<string, string[]>> {
  const store = await LocalStore.open({ stateDir });
  try {
    return Object.fromEntries((await store.list('App')).map((app) => [app.metadata.name, app.spec.routes.hosts]));
  } finally {
    await store.close();
  }
}

describe('dormant apply and apps create: hosts are one app’s each', () => {
  it("refuses another app's host or address, naming the owner, and changes nothing", async () => {
    const stateDir = await tempStateDir();
    assert.equal((await runCli(stateDir, ['apply', '-f', '-'], { stdin: appDoc('shop', ['shop.example.com']) })).code, 0);
    assert.equal((await runCli(stateDir, ['apply', '-f', '-'], { stdin: appDoc('blog', ['blog.example.com']) })).code, 0);
    const before = await hostsOf(stateDir);

    const stolen = await runCli(stateDir, ['apply', '-f', '-'], { stdin: appDoc('thief', ['shop.example.com']) });
    assert.equal(stolen.code, 1);
    assert.equal(stolen.stderr, 'error [STORE_HOST_TAKEN]: App "thief" cannot claim host shop.example.com: app shop already serves it; remove it from spec.routes.hosts, or from shop\'s first\n');

    const address = await runCli(stateDir, ['apply', '-f', '-'], { stdin: appDoc('blog', ['blog.example.com', 'shop.localhost']) });
    assert.equal(address.code, 1);
    assert.match(address.stderr, /^error \[STORE_HOST_TAKEN\]: App "blog" cannot claim host shop\.localhost: it is the address of app shop; remove it from spec\.routes\.hosts\n$/);

    const named = await runCli(stateDir, ['apply', '-f', '-'], { stdin: appDoc('site', ['www.localhost']) });
    assert.equal(named.code, 0, named.stderr);
    const www = await runCli(stateDir, ['apps', 'create', 'www']);
    assert.equal(www.code, 1);
    assert.match(www.stderr, /App "www" cannot be served at its address www\.localhost: app site lists that host in spec\.routes\.hosts; pick another name/);

    assert.deepEqual(await hostsOf(stateDir), { ...before, site: ['www.localhost'] }, 'every app kept its hosts; no thief, no www');
  });

  it('refuses localhost, an IP address and the bare domain of the state folder’s dormant up', async () => {
    const stateDir = await tempStateDir();
    // What dormant up --domain apps.example.com leaves in the state folder.
    await writeFile(join(stateDir, 'runtime.json'), JSON.stringify({ runtime: 'local', domain: 'apps.example.com' }));
    assert.equal((await runCli(stateDir, ['apply', '-f', '-'], { stdin: appDoc('shop', ['shop.example.com']) })).code, 0);
    const rows = [
      { host: 'localhost', reason: "it is localhost, where Dormant's list of apps is served" },
      { host: '127.0.0.1', reason: "it is an IP address: the machine's, not one app's" },
      { host: 'apps.example.com', reason: "it is the bare domain, where Dormant's list of apps is served" },
    ];
    for (const row of rows) {
      const result = await runCli(stateDir, ['apply', '-f', '-'], { stdin: appDoc('shop', ['shop.example.com', row.host]) });
      assert.equal(result.code, 1, row.host);
      assert.equal(result.stderr, `error [STORE_HOST_RESERVED]: App "shop" cannot claim host ${row.host}: ${row.reason}; remove it from spec.routes.hosts and use a name of its own (such as shop.example.com)\n`);
    }
    const taken = await runCli(stateDir, ['apply', '-f', '-'], { stdin: appDoc('blog', ['shop.apps.example.com']) });
    assert.match(taken.stderr, /cannot claim host shop\.apps\.example\.com: it is the address of app shop/, 'the domain is the one dormant up serves');
    assert.deepEqual(await hostsOf(stateDir), { shop: ['shop.example.com'] });
  });
});
