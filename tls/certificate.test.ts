import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isDormantError } from '../errors/index.js';
import { acmeCertificateId, chooseCertificate, type HeldCertificate, nameCovers, readCertificatePair, userCertificateId } from './certificate.js';
import { TestCa } from './test-support.js';

const ca = new TestCa();
after(() => ca.remove());
const now = Date.now();
const day = 86_400_000;

describe('readCertificatePair', () => {
  it('reads the names, dates, issuer and fingerprint of the leaf of a chain', () => {
    const pair = ca.issue(['shop.example.com', 'www.shop.example.com']);
    const facts = readCertificatePair(pair.certificatePem, pair.privateKeyPem, now);
    assert.deepEqual(facts.names, ['shop.example.com', 'www.shop.example.com']);
    assert.ok(facts.notAfter > now + 9 * day && facts.notAfter < now + 11 * day);
    assert.ok(facts.notBefore <= Date.now() + 1000);
    assert.match(facts.issuer, /CN=Dormant Test CA/);
    assert.match(facts.fingerprint, /^[0-9a-f]{64}$/);
    assert.match(userCertificateId(facts), /^user-[0-9a-f]{12}$/);
  });

  it('refuses a key that is not the certificate\'s, with TLS_KEY_MISMATCH', () => {
    const one = ca.issue(['a.example.com']);
    const other = ca.issue(['b.example.com']);
    assert.throws(() => readCertificatePair(one.certificatePem, other.privateKeyPem, now), (error) => isDormantError(error, 'TLS_KEY_MISMATCH') && /a\.example\.com/.test(error.message));
  });

  it('refuses an expired certificate at a clock past its end, and reads it back without a clock', () => {
    const pair = ca.issue(['old.example.com'], 1);
    assert.throws(() => readCertificatePair(pair.certificatePem, pair.privateKeyPem, now + 2 * day), (error) => isDormantError(error, 'TLS_CERT_EXPIRED') && /certs auto:enable/.test(error.message));
    assert.deepEqual(readCertificatePair(pair.certificatePem, pair.privateKeyPem, undefined).names, ['old.example.com']);
  });

  it('refuses what is not a PEM certificate or key, or too large, with TLS_BAD_CERTIFICATE', () => {
    const pair = ca.issue(['c.example.com']);
    const refused = (cert: string, key: string, pattern: RegExp) => assert.throws(() => readCertificatePair(cert, key, now, 'cert.pem'), (error) => isDormantError(error, 'TLS_BAD_CERTIFICATE') && pattern.test(error.message));
    refused('hello', pair.privateKeyPem, /cert\.pem .*no PEM certificate/);
    refused('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', pair.privateKeyPem, /cert\.pem is not a usable certificate/);
    refused(pair.certificatePem, 'not a key', /private key .*without a passphrase/);
    refused(pair.certificatePem + 'x'.repeat(70_000), pair.privateKeyPem, /over 64 KiB/);
  });
});

it('refuses what TLS cannot serve (a 512-bit RSA key), with TLS_BAD_CERTIFICATE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dormant-weak-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:512', '-nodes', '-keyout', 'w.key', '-out', 'w.pem', '-days', '5', '-subj', '/CN=weak.example.com', '-addext', 'subjectAltName=DNS:weak.example.com'], { cwd: dir, stdio: 'ignore' });
    const refused = () => readCertificatePair(readFileSync(join(dir, 'w.pem'), 'utf8'), readFileSync(join(dir, 'w.key'), 'utf8'), now, 'w.pem');
    assert.throws(refused, (error) => isDormantError(error, 'TLS_BAD_CERTIFICATE') && /TLS cannot serve it/.test(error.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('choosing a certificate for a host', () => {
  it('matches names exactly, or a wildcard for one label more', () => {
    assert.equal(nameCovers('shop.example.com', 'shop.example.com'), true);
    assert.equal(nameCovers('*.example.com', 'shop.example.com'), true);
    assert.equal(nameCovers('*.example.com', 'a.shop.example.com'), false);
    assert.equal(nameCovers('*.example.com', 'example.com'), false);
    assert.equal(nameCovers('shop.example.com', 'other.example.com'), false);
  });

  const held = (id: string, source: 'user' | 'acme', names: string[], notBefore: number, notAfter: number): HeldCertificate => ({ id, source, names, notBefore, notAfter, issuer: '', fingerprint: id });
  it("prefers the user's certificate, then the one valid longest, and never one not yet or no longer valid", () => {
    const certificates = [
      held(acmeCertificateId('shop.example.com'), 'acme', ['shop.example.com'], now - day, now + 80 * day),
      held('user-1', 'user', ['*.example.com'], now - day, now + 5 * day),
      held('user-2', 'user', ['shop.example.com'], now - day, now + 9 * day),
      held('user-3', 'user', ['shop.example.com'], now + day, now + 99 * day),
      held('user-4', 'user', ['shop.example.com'], now - 9 * day, now - day),
    ];
    assert.equal(chooseCertificate(certificates, 'shop.example.com', now)?.id, 'user-2');
    assert.equal(chooseCertificate(certificates, 'www.example.com', now)?.id, 'user-1');
    assert.equal(chooseCertificate(certificates.slice(0, 1), 'shop.example.com', now)?.id, 'acme-shop.example.com');
    assert.equal(chooseCertificate(certificates, 'shop.example.org', now), undefined);
    assert.equal(chooseCertificate(certificates, 'shop.example.com', now + 100 * day), undefined);
  });
});
