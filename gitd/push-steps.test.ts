import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runtimeErrors } from '../runtime/index.js';
import { deployRejection } from './push-steps.js';

describe('deployRejection: the words git prints beside the ref', () => {
  const failed = (reason: string, lastLines: string[]) => runtimeErrors.rolloutFailed({ app: 'web', revision: 'web-00002', reason, lastLines, previous: 'web-00001' });

  it("a release that exited: why, and the app's last line that says something", () => {
    assert.equal(deployRejection(failed('exited 127', ['[INFO] starting', '/bin/sh: 1: gunicorn: not found', '   '])), 'exited 127: /bin/sh: 1: gunicorn: not found');
  });
  it('a release that printed nothing: why only, with no dangling words', () => {
    assert.equal(deployRejection(failed('was not ready within 60 s', [])), 'was not ready within 60 s');
  });
  it("control characters in the app's line become spaces, and a long line is cut", () => {
    const said = deployRejection(failed('exited 1', [`\u001b[31mError\u001b[0m\r${'x'.repeat(400)}`]));
    assert.equal(said.length, 200);
    assert.ok(said.startsWith('exited 1:  [31mError [0m x'), said);
    assert.ok(said.endsWith('…'));
  });
  it("any other error: its first line", () => {
    assert.equal(deployRejection(new Error('the runtime is shutting down\nmore')), 'the runtime is shutting down');
  });
});
