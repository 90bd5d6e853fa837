import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { refLimitError, refNameLengthProblem } from './push-limits.js';

describe('ref name length', () => {
  const cases = [
    { name: 'a usual branch', ref: 'refs/heads/main', problem: undefined },
    { name: '1,024 bytes in parts of 200', ref: `refs/heads/${'a'.repeat(200)}/${'b'.repeat(200)}/${'c'.repeat(200)}/${'d'.repeat(200)}/${'e'.repeat(1024 - 11 - 804)}`, problem: undefined },
    { name: '1,025 bytes', ref: `refs/heads/${'a'.repeat(200)}/${'b'.repeat(200)}/${'c'.repeat(200)}/${'d'.repeat(200)}/${'e'.repeat(1025 - 11 - 804)}`, problem: '1025 bytes, over the limit of 1024' },
    { name: 'one part of 256 bytes', ref: `refs/heads/${'a'.repeat(256)}`, problem: 'one part between slashes is 256 bytes, over the 255 a file name may have' },
    { name: 'one part of 255 bytes', ref: `refs/tags/${'a'.repeat(255)}`, problem: undefined },
    { name: 'multi-byte characters counted in bytes', ref: `refs/heads/${'é'.repeat(128)}`, problem: 'one part between slashes is 256 bytes, over the 255 a file name may have' },
  ];
  for (const c of cases) it(c.name, () => assert.equal(refNameLengthProblem(c.ref), c.problem));
});

describe('refs per push', () => {
  const refs = (n: number) => Array.from({ length: n }, (_, i) => `refs/tags/v${i}`);
  const cases = [
    { name: '1,000 refs with a limit of 1,000', refs: refs(1000), limit: 1000, code: undefined },
    { name: '1,001 refs with a limit of 1,000', refs: refs(1001), limit: 1000, code: 'GITD_TOO_MANY_REFS' },
    { name: 'one ref with a name too long', refs: ['refs/heads/main', `refs/heads/${'x'.repeat(300)}`], limit: 1000, code: 'GITD_REF_NAME_TOO_LONG' },
  ];
  for (const c of cases) it(c.name, () => assert.equal(refLimitError(c.refs, c.limit)?.code, c.code));
  it('names the count, the limit and the flag', () => {
    assert.match(refLimitError(refs(1001), 1000)?.message ?? '', /^this push updates 1001 refs, over the limit of 1000; .*--max-refs-per-push$/);
  });
});
