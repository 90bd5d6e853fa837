import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RouteTable } from './route-table.js';

/** One app as the table is told about it: name, explicit hosts, claim order (older first). */
type Entry = readonly [app: string, hosts: readonly string[], order: string];

describe('RouteTable: a host claimed twice goes to the oldest claim', () => {
  const shop: Entry = ['shop', ['shop.example.com'], '2026-01-01T00:00:00Z\u0000shop'];
  const thief: Entry = ['thief', ['shop.example.com', 'shop.localhost', 'localhost', '127.0.0.1'], '2026-06-01T00:00:00Z\u0000thief'];
  const rows: readonly { name: string; entries: readonly Entry[]; host: string; app: string | undefined }[] = [
    { name: 'older first, then the newer thief: the explicit host stays', entries: [shop, thief], host: 'shop.example.com', app: 'shop' },
    { name: 'the newer thief arrives first: the explicit host still goes to the older', entries: [thief, shop], host: 'shop.example.com', app: 'shop' },
    { name: "a newer app listing another's address: the address stays", entries: [thief, shop], host: 'shop.localhost', app: 'shop' },
    { name: 'an app listing localhost does not take the root', entries: [thief], host: 'localhost', app: undefined },
    { name: 'an app listing 127.0.0.1 does not take it', entries: [thief], host: '127.0.0.1', app: undefined },
    { name: 'an app is still served at its own address', entries: [shop, thief], host: 'thief.localhost', app: 'thief' },
    {
      name: 'an older explicit claim on a newer app’s address keeps it',
      entries: [['www', [], '2026-06-01T00:00:00Z\u0000www'], ['site', ['www.localhost'], '2026-01-01T00:00:00Z\u0000site']],
      host: 'www.localhost',
      app: 'site',
    },
    {
      name: 'the same creation time: the name decides',
      entries: [['b', ['x.example.com'], 'T\u0000b'], ['a', ['x.example.com'], 'T\u0000a']],
      host: 'x.example.com',
      app: 'a',
    },
    { name: 'a trailing dot is the same host', entries: [shop], host: 'shop.example.com.', app: 'shop' },
    { name: 'an upper-case listed host is matched lower-cased', entries: [['loud', ['LOUD.Example.com'], '']], host: 'loud.example.com', app: 'loud' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const table = new RouteTable('localhost');
      for (const [app, hosts, order] of row.entries) table.set(app, hosts, order);
      assert.equal(table.resolve(RouteTable.hostname(row.host)), row.app);
    });
  }

  it('set says which of the hosts an older claim keeps', () => {
    const table = new RouteTable('localhost');
    table.set(...shop);
    assert.deepEqual(table.set(...thief), [
      { host: 'shop.example.com', owner: 'shop' },
      { host: 'shop.localhost', owner: 'shop' },
    ]);
  });

  it('when the owner goes, the next claim takes the host; when it comes back it is the owner again', () => {
    const table = new RouteTable('localhost');
    table.set(...shop);
    table.set(...thief);
    table.remove('shop');
    assert.equal(table.resolve('shop.example.com'), 'thief');
    table.set(...shop);
    assert.equal(table.resolve('shop.example.com'), 'shop');
    table.set(...thief);
    assert.equal(table.resolve('shop.example.com'), 'shop', 'a change to the newer app does not move the host');
  });

  it('the bare domain of a real domain is no app’s', () => {
    const table = new RouteTable('apps.example.com');
    table.set('grabby', ['apps.example.com'], '');
    assert.equal(table.resolve('apps.example.com'), undefined);
    assert.equal(table.resolve('grabby.apps.example.com'), 'grabby');
  });
});
