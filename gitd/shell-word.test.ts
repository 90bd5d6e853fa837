import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { it } from 'node:test';
import { shellWord } from './push-pipeline.js';

it('shellWord: a POSIX shell reads each word back whole, whatever it holds', () => {
  const words = ["it's", '$(id)', '`id`', '"quoted"', 'a b\tc\nd', '\\', "'; rm -rf /; '", ''];
  const printed = execFileSync('/bin/sh', ['-c', `printf '%s\\0' ${words.map(shellWord).join(' ')}`]).toString('utf8');
  assert.deepEqual(printed.split('\0').slice(0, -1), words);
});
