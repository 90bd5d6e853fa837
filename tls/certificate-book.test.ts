import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { CertificateBook } from './certificate-book.js';
import { CertificateFiles } from './certificate-files.js';
import { TestCa } from './test-support.js';

const log = pino({ level: 'silent' });
let stateDir: string;
let ca: TestCa;
before(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'dormant-book-'));
  ca = new TestCa();
});
after(async () => {
  await rm(stateDir, { recursive: true, force: true });
  ca.remove();
});

describe('CertificateBook', () => {
  it("serves an app's certificate only for the App it was added to (its uid), and only for hosts it covers", async () => {
    const files = new CertificateFiles(stateDir);
    const pair = ca.issue(['shop.example.com']);
    await files.put({ app: 'shop', appUid: 'uid-1', id: 'user-aaaaaaaaaaaa', source: 'user', certificatePem: pair.certificatePem, privateKeyPem: pair.privateKeyPem, addedAt: '' });
    const book = new CertificateBook({ files, log });
    await book.reload();
    assert.ok(book.secureContext('shop', 'uid-1', 'shop.example.com'));
    assert.equal(book.secureContext('shop', 'uid-2', 'shop.example.com'), undefined, 'an App made again under the name is another App');
    assert.equal(book.secureContext('rival', 'uid-1', 'shop.example.com'), undefined);
    assert.equal(book.secureContext('shop', 'uid-1', 'www.example.com'), undefined);
  });

  it('keeps a context while its certificate stays, makes a new one for a new chain of the same leaf, and forgets a removed one', async () => {
    const files = new CertificateFiles(stateDir);
    const pair = ca.issue(['keep.example.com']);
    const record = { app: 'keep', appUid: 'u', id: 'user-bbbbbbbbbbbb', source: 'user' as const, certificatePem: pair.certificatePem, privateKeyPem: pair.privateKeyPem, addedAt: '' };
    await files.put(record);
    const book = new CertificateBook({ files, log });
    await book.reload();
    const first = book.secureContext('keep', 'u', 'keep.example.com');
    const generation = book.generation;
    await book.reload();
    assert.equal(book.secureContext('keep', 'u', 'keep.example.com'), first);
    assert.ok(book.generation > generation);
    // The leaf alone, without its chain: the same leaf fingerprint, another PEM.
    await files.put({ ...record, certificatePem: pair.certificatePem.slice(0, pair.certificatePem.indexOf('-----END CERTIFICATE-----') + 26) });
    await book.reload();
    const second = book.secureContext('keep', 'u', 'keep.example.com');
    assert.ok(second);
    assert.notEqual(second, first);
    assert.equal(await files.remove('keep', record.id), true);
    await book.reload();
    assert.equal(book.secureContext('keep', 'u', 'keep.example.com'), undefined);
  });

  it('reloads one at a time: reloads asked together all end with the newest files read', async () => {
    const files = new CertificateFiles(stateDir);
    const pair = ca.issue(['race.example.com']);
    const book = new CertificateBook({ files, log });
    await book.reload();
    const record = { app: 'race', appUid: 'u', id: 'user-cccccccccccc', source: 'user' as const, certificatePem: pair.certificatePem, privateKeyPem: pair.privateKeyPem, addedAt: '' };
    await files.put(record);
    const asked = [book.reload(), book.reload()];
    await files.remove('race', record.id);
    asked.push(book.reload());
    await Promise.all(asked);
    assert.equal(book.secureContext('race', 'u', 'race.example.com'), undefined, 'the removal is the last word');
  });

  it('skips a file that is not a certificate, and serves the rest', async () => {
    const files = new CertificateFiles(stateDir);
    const pair = ca.issue(['ok.example.com']);
    await files.put({ app: 'mixed', appUid: 'u', id: 'user-dddddddddddd', source: 'user', certificatePem: pair.certificatePem, privateKeyPem: pair.privateKeyPem, addedAt: '' });
    await writeFile(join(stateDir, 'certs', 'mixed', 'user-eeeeeeeeeeee.json'), '{"not":"a certificate"}');
    const unreadable: string[] = [];
    assert.equal((await files.list('mixed', (where) => unreadable.push(where))).length, 1);
    assert.equal(unreadable.length, 1);
    const book = new CertificateBook({ files, log });
    await book.reload();
    assert.ok(book.secureContext('mixed', 'u', 'ok.example.com'));
  });
});
