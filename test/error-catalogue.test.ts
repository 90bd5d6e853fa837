// Every error code is unique (defineErrors throws otherwise) and documented in
// docs/errors.md with the same HTTP status and exit code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import '../activator/index.js';
import '../autoscaler/index.js';
import '../builder/index.js';
import '../cli/index.js';
import '../gitd/index.js';
import '../runtime/index.js';
import '../state-folder/index.js';
import '../tls/index.js';
import { registeredErrorCodes } from '../errors/index.js';

it('docs/errors.md documents exactly the codes the code defines', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const documented = new Map<string, { httpStatus: number; exitCode: number }>();
  for (const match of doc.matchAll(/^\| `([A-Z_0-9]+)` \| (\d+) \| (\d+) \|/gm)) {
    documented.set(match[1] ?? '', { httpStatus: Number(match[2]), exitCode: Number(match[3]) });
  }
  const defined = registeredErrorCodes();
  assert.ok(defined.length >= 10);
  for (const entry of defined) {
    assert.deepEqual(documented.get(entry.code), { httpStatus: entry.httpStatus, exitCode: entry.exitCode }, `${entry.code} is missing or different in docs/errors.md`);
  }
  assert.deepEqual([...documented.keys()].sort(), defined.map((e) => e.code).sort(), 'docs/errors.md lists codes that no longer exist');
});
