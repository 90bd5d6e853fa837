import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { adminTokenFile, hasAdminToken, readAdminToken, writeAdminToken } from './admin-token.js';
import { tempStateDir } from './test-support.js';

describe('hasAdminToken', () => {
  const token = 'k3Y_secret-token';
  const rows: { name: string; authorization: string | undefined; accepted: boolean }[] = [
    { name: 'Bearer and the token', authorization: `Bearer ${token}`, accepted: true },
    { name: 'lower-case bearer and the token', authorization: `bearer ${token}`, accepted: true },
    { name: 'the token with a trailing space', authorization: `Bearer ${token} `, accepted: true },
    { name: 'no header', authorization: undefined, accepted: false },
    { name: 'an empty header', authorization: '', accepted: false },
    { name: 'Bearer alone', authorization: 'Bearer ', accepted: false },
    { name: 'the token without Bearer', authorization: token, accepted: false },
    { name: 'a prefix of the token', authorization: `Bearer ${token.slice(0, -1)}`, accepted: false },
    { name: 'the token and more', authorization: `Bearer ${token}x`, accepted: false },
    { name: 'the token with another after it', authorization: `Bearer ${token} ${token}`, accepted: false },
    { name: 'Basic credentials', authorization: `Basic ${Buffer.from(`admin:${token}`).toString('base64')}`, accepted: false },
  ];
  for (const row of rows) {
    it(`${row.accepted ? 'accepts' : 'refuses'} ${row.name}`, () => {
      assert.equal(hasAdminToken(row.authorization, token), row.accepted);
    });
  }
});

describe('writeAdminToken', () => {
  it('writes a new random token on each call, readable by its user only, and readAdminToken reads the last one', async () => {
    const stateDir = await tempStateDir();
    assert.equal(await readAdminToken(stateDir), undefined);
    const first = await writeAdminToken(stateDir);
    const second = await writeAdminToken(stateDir);
    assert.notEqual(first, second);
    assert.match(second, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(await readAdminToken(stateDir), second);
    assert.equal((await stat(adminTokenFile(stateDir))).mode & 0o777, 0o600);
  });
});
