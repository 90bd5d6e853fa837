import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Http01Answers } from './acme-issuer.js';
import { type AcmeApp, acmeHostsOf, dueOrders, nextCheckMs, renewalDue, retryDelayMs } from './acme-plan.js';
import type { HeldCertificate } from './certificate.js';

const day = 86_400_000;
const now = 1_800_000_000_000;
const app = (name: string, hosts: string[], acme = true): AcmeApp => ({ metadata: { name, uid: `${name}-uid` }, spec: { routes: { hosts }, ...(acme ? { tls: { acme } } : {}) } });
const cert = (host: string, notBefore: number, notAfter: number): HeldCertificate => ({ id: `acme-${host}`, source: 'acme', names: [host], notBefore, notAfter, issuer: '', fingerprint: host });

describe('which hosts ACME certifies', () => {
  it('every host of the app but names under localhost, IPs and single labels', () => {
    assert.deepEqual(acmeHostsOf(app('shop', ['shop.example.com', 'intranet', 'x.localhost']), 'localhost'), ['shop.example.com']);
    assert.deepEqual(acmeHostsOf(app('shop', ['shop.example.com']), 'apps.example.org'), ['shop.apps.example.org', 'shop.example.com']);
  });
});

describe('dueOrders', () => {
  it('orders a missing certificate, renews one in the last third of its life, and leaves the rest', () => {
    const apps = [app('shop', ['a.example.com', 'b.example.com', 'c.example.com']), app('off', ['off.example.com'], false)];
    const certificates = new Map([['shop', [cert('b.example.com', now - 10 * day, now + 80 * day), cert('c.example.com', now - 70 * day, now + 20 * day)]]]);
    assert.deepEqual(dueOrders(apps, certificates, new Map(), 'localhost', now), [
      { app: 'shop', host: 'a.example.com', reason: 'missing' },
      { app: 'shop', host: 'c.example.com', reason: 'renewal' },
    ]);
  });

  it("never counts another app's certificate, even for the same name", () => {
    const certificates = new Map([['other', [cert('a.example.com', now - day, now + 80 * day)]]]);
    assert.deepEqual(dueOrders([app('shop', ['a.example.com'])], certificates, new Map(), 'localhost', now), [{ app: 'shop', host: 'a.example.com', reason: 'missing' }]);
  });

  it('waits out the back-off of a host that failed, then orders it again', () => {
    const failures = new Map([['a.example.com', { count: 2, retryAtMs: now + retryDelayMs(2) }]]);
    const apps = [app('shop', ['a.example.com'])];
    assert.deepEqual(dueOrders(apps, new Map(), failures, 'localhost', now), []);
    assert.equal(nextCheckMs(apps, new Map(), failures, 'localhost', now), now + 10 * 60_000);
    assert.equal(dueOrders(apps, new Map(), failures, 'localhost', now + retryDelayMs(2)).length, 1);
  });

  it('backs off from 5 minutes, doubling, to at most 12 hours; renews at two thirds of a life', () => {
    assert.deepEqual([1, 2, 3, 20].map(retryDelayMs), [300_000, 600_000, 1_200_000, 43_200_000]);
    assert.equal(renewalDue({ notBefore: 0, notAfter: 90 * day }, 59 * day), false);
    assert.equal(renewalDue({ notBefore: 0, notAfter: 90 * day }, 60 * day), true);
    assert.equal(nextCheckMs([app('shop', ['a.example.com'])], new Map([['shop', [cert('a.example.com', now, now + 90 * day)]]]), new Map(), 'localhost', now), now + 60 * day);
  });
});

describe('Http01Answers', () => {
  it('answers a token only for the host it was set for, and forgets it when deleted', () => {
    const answers = new Http01Answers();
    assert.equal(answers.pending, 0);
    answers.set('shop.example.com', 'tok', 'tok.key');
    assert.equal(answers.pending, 1);
    assert.equal(answers.answer('shop.example.com', 'tok'), 'tok.key');
    assert.equal(answers.answer('rival.example.com', 'tok'), undefined, "another app's host never gets it");
    assert.equal(answers.answer('shop.example.com', 'other'), undefined);
    answers.delete('tok');
    assert.equal(answers.answer('shop.example.com', 'tok'), undefined);
    assert.equal(answers.pending, 0);
  });
});
