import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDormantError } from '../errors/index.js';
import { parseReleaseAsk } from './release-endpoint.js';

describe('parseReleaseAsk', () => {
  it('reads config and rollback asks', () => {
    assert.deepEqual(parseReleaseAsk('{"kind":"config","set":{"A":"1 2"},"unset":["B"],"by":"me@host"}'), { kind: 'config', set: { A: '1 2' }, unset: ['B'], by: 'me@host' });
    assert.deepEqual(parseReleaseAsk('{"kind":"rollback"}'), { kind: 'rollback' });
    assert.deepEqual(parseReleaseAsk('{"kind":"restart","by":"me"}'), { kind: 'restart', by: 'me' });
    assert.deepEqual(parseReleaseAsk('{"kind":"rollback","to":"v3"}'), { kind: 'rollback', to: 'v3' });
  });

  it('refuses anything else, saying what', () => {
    for (const [body, message] of [
      ['', /not JSON/],
      ['null', /not a JSON object/],
      ['{"kind":"delete"}', /"kind" must be/],
      ['{"kind":"config","set":"A"}', /"set" must be an object/],
      ['{"kind":"config","set":{"PORT":"1"}}', /"set" names "PORT", which is not a variable of the app's config/],
      ['{"kind":"config","set":{"A":1}}', /the value of A is not a string/],
      [JSON.stringify({ kind: 'config', set: { A: 'x'.repeat(33 * 1024) } }), /the value of A is not a string of at most 32 KiB/],
      ['{"kind":"config","unset":["A B"]}', /"unset" must be a list/],
      ['{"kind":"config","unset":["DORMANT_APP"]}', /"unset" must be a list/],
      [JSON.stringify({ kind: 'config', set: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`K${i}`, ''])) }), /more than 256/],
      ['{"kind":"rollback","to":"v1\\nX"}', /"to" must be a release/],
      ['{"kind":"rollback","by":"a\\nb"}', /"by" must be one line/],
    ] as const) {
      assert.throws(() => parseReleaseAsk(body), (error: unknown) => isDormantError(error, 'GITD_RELEASE_INVALID') && message.test(error.message), body);
    }
  });
});
