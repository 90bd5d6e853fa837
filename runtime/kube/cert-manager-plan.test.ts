import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CertifiedApp, certificateChanges, specHash, wantedCertificates } from './cert-manager-plan.js';

const app = (name: string, hosts: string[], options: { acme?: boolean; createdAt?: string; uid?: string | null } = {}): CertifiedApp => ({
  metadata: { name, ...(options.uid === null ? {} : { uid: options.uid ?? `${name}-uid` }), creationTimestamp: options.createdAt ?? '2026-01-01T00:00:00Z' },
  spec: { routes: { hosts }, ...(options.acme === false ? {} : { tls: { acme: true } }) },
});
const options = { domain: 'apps.example.org', issuer: { kind: 'ClusterIssuer', name: 'letsencrypt' } as const, namespace: 'default' };

describe('wantedCertificates', () => {
  it('one per host the app holds, its address first; none for an app without automatic certificates or not yet stored (no uid)', () => {
    const wanted = wantedCertificates([app('shop', ['www.shop.com']), app('quiet', ['quiet.com'], { acme: false }), app('new', [], { uid: null })], options);
    assert.deepEqual(
      wanted.map((c) => [c.metadata.labels['dormant.dev/app'], c.spec.dnsNames, c.spec.commonName]),
      [
        ['shop', ['shop.apps.example.org'], 'shop.apps.example.org'],
        ['shop', ['www.shop.com'], 'www.shop.com'],
      ],
    );
  });

  it("never for a host another app holds (the older claim), nor for the names Dormant keeps", () => {
    const older = app('first', ['shared.com'], { acme: false, createdAt: '2025-01-01T00:00:00Z' });
    const wanted = wantedCertificates([app('second', ['shared.com', 'localhost', 'apps.example.org', '10.0.0.1']), older], options);
    assert.deepEqual(wanted.map((c) => c.spec.dnsNames[0]), ['second.apps.example.org']);
  });

  it("fills a Secret named as Dormant's certificate Secrets, with the marks the listener reads (the App's uid); not owned by the App (its Secret would be left behind)", () => {
    const [certificate] = wantedCertificates([app('shop', [])], options);
    assert.ok(certificate);
    assert.match(certificate.metadata.name, /^shop-tls-[0-9a-f]{20}$/);
    assert.equal(certificate.spec.secretName, certificate.metadata.name);
    assert.deepEqual(certificate.spec.issuerRef, { group: 'cert-manager.io', kind: 'ClusterIssuer', name: 'letsencrypt' });
    assert.deepEqual(certificate.spec.secretTemplate.labels, { 'dormant.dev/certificate': 'true', 'dormant.dev/app': 'shop' });
    assert.equal(certificate.spec.secretTemplate.annotations['dormant.dev/app-uid'], 'shop-uid');
    assert.equal(certificate.spec.secretTemplate.annotations['dormant.dev/certificate-source'], 'acme');
    assert.deepEqual(certificate.metadata.labels, { 'dormant.dev/cert-manager': 'true', 'dormant.dev/app': 'shop' });
    assert.equal('ownerReferences' in certificate.metadata, false);
    const [elsewhere] = wantedCertificates([app('shop', [])], { ...options, namespace: 'dormant-system' });
    assert.equal(elsewhere?.metadata.namespace, 'dormant-system');
    assert.equal(elsewhere?.metadata.name, certificate.metadata.name);
  });

  it('a long host has no common name (a CN holds 64 characters), and an app holds 48 at most', () => {
    const long = `${'a'.repeat(60)}.example.com`;
    const [, withLong] = wantedCertificates([app('shop', [long])], options);
    assert.equal(withLong?.spec.commonName, undefined);
    assert.deepEqual(withLong?.spec.dnsNames, [long]);
    const many = Array.from({ length: 60 }, (_, i) => `h${i}.example.com`);
    assert.equal(wantedCertificates([app('shop', many)], options).length, 48);
  });

  it("two apps' names never collide, though one app's name holds the other's (shop and shop-tls)", () => {
    const names = wantedCertificates([app('shop', ['a.com']), app('shop-tls', ['b.com'])], options).map((c) => c.metadata.name);
    assert.equal(new Set(names).size, names.length);
  });
});

describe('certificateChanges', () => {
  const wanted = wantedCertificates([app('shop', ['www.shop.com'])], options);
  const [own, www] = wanted;
  assert.ok(own && www);
  const found = (certificate: typeof own, hash = specHash(certificate.spec)) => ({ name: certificate.metadata.name, specHash: hash, secretName: certificate.spec.secretName });

  it('creates what is missing, replaces what changed, removes what is no longer wanted, and leaves the rest', () => {
    const changes = certificateChanges(wanted, [found(own, 'stale'), { name: 'gone-tls-1', specHash: 'x', secretName: 'gone-tls-1' }]);
    assert.deepEqual(changes.create.map((c) => c.metadata.name), [www.metadata.name]);
    assert.deepEqual(changes.replace.map((c) => c.metadata.name), [own.metadata.name]);
    assert.deepEqual(changes.remove.map((c) => c.name), ['gone-tls-1']);
    assert.deepEqual(certificateChanges(wanted, [found(own), found(www)]), { create: [], replace: [], remove: [] });
  });

  it("a new issuer or App (another uid) changes the spec's hash", () => {
    const [otherIssuer] = wantedCertificates([app('shop', [])], { ...options, issuer: { kind: 'Issuer', name: 'ca' } });
    const [recreated] = wantedCertificates([app('shop', [], { uid: 'shop-uid-2' })], options);
    assert.ok(otherIssuer && recreated);
    assert.notEqual(specHash(otherIssuer.spec), specHash(own.spec));
    assert.notEqual(specHash(recreated.spec), specHash(own.spec));
  });

  it('a hand edit of a field Dormant sets is reverted; fields cert-manager defaults, and key order, are not a change', () => {
    const edited = { ...own.spec, dnsNames: ['evil.example.com'] };
    assert.notEqual(specHash(edited), specHash(own.spec));
    const defaulted = { ...own.spec, duration: '2160h0m0s', privateKey: { rotationPolicy: 'Always', algorithm: 'RSA' }, secretTemplate: { annotations: { ...own.spec.secretTemplate.annotations }, labels: Object.fromEntries(Object.entries(own.spec.secretTemplate.labels).reverse()) } };
    assert.equal(specHash(defaulted), specHash(own.spec));
  });
});
