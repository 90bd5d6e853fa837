import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type App, normalizeHost, refusedHost, reservedHost, validateAs } from './index.js';

const app = (name: string, hosts: string[] = [], namespace = 'default'): App => {
  const result = validateAs('App', { apiVersion: 'dormant.dev/v1alpha1', kind: 'App', metadata: { name, namespace }, spec: { routes: { hosts } } });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.object;
};

describe('normalizeHost', () => {
  const rows = [
    { given: 'Shop.Example.COM', host: 'shop.example.com' },
    { given: 'shop.example.com:8080', host: 'shop.example.com' },
    { given: 'shop.example.com.', host: 'shop.example.com' },
    { given: 'SHOP.example.com.:443', host: 'shop.example.com' },
    { given: '[::1]:8080', host: '[::1]' },
  ];
  for (const row of rows) it(`${row.given} -> ${row.host}`, () => assert.equal(normalizeHost(row.given), row.host));
});

describe('reservedHost', () => {
  const rows = [
    { host: 'localhost', domain: 'localhost', reserved: /localhost/ },
    { host: 'apps.example.com', domain: 'apps.example.com', reserved: /bare domain/ },
    { host: 'localhost', domain: 'apps.example.com', reserved: /localhost/ },
    { host: '127.0.0.1', domain: 'localhost', reserved: /IP address/ },
    { host: '10.1.2.3', domain: 'localhost', reserved: /IP address/ },
    { host: '', domain: 'localhost', reserved: /empty/ },
    { host: 'shop.example.com', domain: 'localhost', reserved: undefined },
    { host: 'shop.localhost', domain: 'localhost', reserved: undefined },
    { host: 'v2.api.example.com', domain: 'apps.example.com', reserved: undefined },
  ];
  for (const row of rows) {
    it(`${row.host || '(empty)'} under domain ${row.domain}: ${row.reserved ? 'reserved' : 'free'}`, () => {
      const reason = reservedHost(row.host, row.domain);
      if (row.reserved === undefined) assert.equal(reason, undefined);
      else assert.match(reason ?? '', row.reserved);
    });
  }
});

describe('refusedHost', () => {
  const owner = app('shop', ['shop.example.com']);
  const rows: readonly { name: string; candidate: App; others: App[]; held?: string[]; refusal: ReturnType<typeof refusedHost> }[] = [
    { name: 'a host nobody has', candidate: app('blog', ['blog.example.com']), others: [owner], refusal: undefined },
    { name: "its own address listed again", candidate: app('blog', ['blog.localhost']), others: [owner], refusal: undefined },
    {
      name: "another app's explicit host",
      candidate: app('blog', ['shop.example.com']),
      others: [owner],
      refusal: { host: 'shop.example.com', owner: 'shop', ownersAddress: false, ownAddress: false },
    },
    {
      name: "another app's address",
      candidate: app('blog', ['shop.localhost']),
      others: [owner],
      refusal: { host: 'shop.localhost', owner: 'shop', ownersAddress: true, ownAddress: false },
    },
    {
      name: 'a new app whose address another app lists',
      candidate: app('www'),
      others: [app('site', ['www.localhost'])],
      refusal: { host: 'www.localhost', owner: 'site', ownersAddress: false, ownAddress: true },
    },
    {
      name: 'an app of the same name in another namespace: the same address',
      candidate: app('shop', [], 'other'),
      others: [owner],
      refusal: { host: 'shop.localhost', owner: 'shop', ownersAddress: true, ownAddress: true },
    },
    { name: 'the stored version of itself is not another app', candidate: app('shop', ['shop.example.com', 'x.example.com']), others: [owner], refusal: undefined },
    { name: 'localhost', candidate: app('blog', ['localhost']), others: [], refusal: { host: 'localhost', reserved: "it is localhost, where Dormant's list of apps is served" } },
    { name: 'an IP address', candidate: app('blog', ['127.0.0.1']), others: [], refusal: { host: '127.0.0.1', reserved: "it is an IP address: the machine's, not one app's" } },
    {
      name: 'a taken host it already held is let be (written past the checks); a new one is not',
      candidate: app('blog', ['shop.example.com', 'shop.localhost']),
      others: [owner],
      held: ['blog.localhost', 'shop.example.com'],
      refusal: { host: 'shop.localhost', owner: 'shop', ownersAddress: true, ownAddress: false },
    },
  ];
  for (const row of rows) it(row.name, () => assert.deepEqual(refusedHost(row.candidate, row.others, 'localhost', row.held), row.refusal));

  it('the bare domain is refused under a real domain', () => {
    assert.deepEqual(refusedHost(app('blog', ['apps.example.com']), [], 'apps.example.com'), {
      host: 'apps.example.com',
      reserved: "it is the bare domain, where Dormant's list of apps is served",
    });
  });
});
