// unzipInto against zips made here with Python's zipfile, its h1: hash against the one the
// real go command computes for the same module zip (read from a file:// proxy).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { unzipInto, zipEntry } from './zip.js';

const work = mkdtempSync(join(tmpdir(), 'dormant-zip-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A zip of these entries (name: [content, mode]), written by Python's zipfile. */
function makeZip(name: string, entries: Record<string, [string, number]>): Buffer {
  const file = join(work, name);
  const script = [
    'import json, sys, zipfile',
    'entries = json.loads(sys.argv[2])',
    'with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:',
    '    for path, (content, mode) in entries.items():',
    '        info = zipfile.ZipInfo(path)',
    '        info.external_attr = (0o100000 | mode) << 16',
    '        info.compress_type = zipfile.ZIP_DEFLATED',
    '        z.writestr(info, content)',
  ].join('\n');
  execFileSync('python3', ['-c', script, file, JSON.stringify(entries)]);
  return readFileSync(file);
}

describe('unzipInto', () => {
  const prefix = 'example.com/tool@v1.0.0/';
  const entries: Record<string, [string, number]> = {
    [`${prefix}go.mod`]: ['module example.com/tool\n', 0o644],
    [`${prefix}bin/go`]: ['#!/bin/sh\necho go\n', 0o755],
    [`${prefix}src/a.go`]: ['package a\n', 0o644],
  };

  it("writes the files without the prefix, executables executable, and returns the module's h1: hash as the go command computes it", async () => {
    const zip = makeZip('tool.zip', entries);
    const into = join(work, 'tool');
    const hash = await unzipInto(zip, into, { prefix, maxEntries: 10, maxBytes: 1024 });
    assert.equal(readFileSync(join(into, 'src', 'a.go'), 'utf8'), 'package a\n');
    assert.equal(statSync(join(into, 'bin', 'go')).mode & 0o777, 0o755);
    assert.equal(statSync(join(into, 'go.mod')).mode & 0o777, 0o644);
    // The go command as the oracle: a file:// proxy holding this zip, and go mod download's Sum.
    const proxy = join(work, 'proxy', 'example.com', 'tool', '@v');
    mkdirSync(proxy, { recursive: true });
    writeFileSync(join(proxy, 'v1.0.0.zip'), zip);
    writeFileSync(join(proxy, 'v1.0.0.mod'), 'module example.com/tool\n');
    writeFileSync(join(proxy, 'v1.0.0.info'), '{"Version":"v1.0.0"}');
    writeFileSync(join(proxy, 'list'), 'v1.0.0\n');
    const downloaded = execFileSync('go', ['mod', 'download', '-json', 'example.com/tool@v1.0.0'], {
      cwd: work,
      env: { ...process.env, GOPROXY: `file://${join(work, 'proxy')}`, GONOSUMDB: 'example.com', GOFLAGS: '-modcacherw', GOMODCACHE: join(work, 'modcache'), GOTOOLCHAIN: 'local', GO111MODULE: 'on' },
      encoding: 'utf8',
    });
    assert.equal(hash, (JSON.parse(downloaded) as { Sum: string }).Sum);
  });

  it('refuses an entry that climbs out of the folder, one outside the prefix, too many entries or bytes; writes nothing outside', async () => {
    const climbing = makeZip('escape.zip', { [`${prefix}../../escaped`]: ['x', 0o644] });
    await assert.rejects(unzipInto(climbing, join(work, 'escape'), { prefix, maxEntries: 10, maxBytes: 1024 }), /not a plain path|invalid relative path/);
    assert.equal(existsSync(join(work, 'escaped')), false);
    await assert.rejects(unzipInto(makeZip('other.zip', { 'other/x': ['x', 0o644] }), join(work, 'other'), { prefix, maxEntries: 10, maxBytes: 1024 }), /other\/x is outside example\.com\/tool@v1\.0\.0\//);
    await assert.rejects(unzipInto(makeZip('many.zip', entries), join(work, 'many'), { prefix, maxEntries: 2, maxBytes: 1024 }), /more than 2 entries/);
    await assert.rejects(unzipInto(makeZip('big.zip', { [`${prefix}big`]: ['x'.repeat(5000), 0o644] }), join(work, 'big'), { prefix, maxEntries: 10, maxBytes: 1024 }), /more than 1024 bytes/);
  });

  it('zipEntry reads one file, bounded', async () => {
    const zip = makeZip('one.zip', entries);
    assert.equal((await zipEntry(zip, `${prefix}bin/go`, 100)).toString(), '#!/bin/sh\necho go\n');
    await assert.rejects(zipEntry(zip, `${prefix}bin/go`, 4), /more than 4 bytes/);
    await assert.rejects(zipEntry(zip, 'nope', 100), /the archive has no nope/);
  });
});
