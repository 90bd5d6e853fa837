// GoToolchains against a Go module proxy served on loopback by the test, with a toolchain
// zip made here: the list, the fetch, the checksum database's record and the unzip are real.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GoToolchains } from './go-toolchains.js';
import { unzipInto } from './zip.js';

const platform = `linux-${process.arch === 'arm64' ? 'arm64' : 'amd64'}`;
const moduleVersion = `v0.0.1-go1.99.1.${platform}`;

describe('GoToolchains', () => {
  const work = mkdtempSync(join(tmpdir(), 'dormant-go-'));
  let zip: Buffer;
  let recorded = '';
  let server: Server;
  let proxy = '';
  const asked: string[] = [];

  before(async () => {
    const tree = join(work, 'tree', `golang.org/toolchain@${moduleVersion}`);
    mkdirSync(join(tree, 'bin'), { recursive: true });
    writeFileSync(join(tree, 'bin', 'go'), '#!/bin/sh\necho go1.99.1 from the test proxy\n', { mode: 0o755 });
    writeFileSync(join(tree, 'VERSION'), 'go1.99.1\n');
    execFileSync('python3', ['-m', 'zipfile', '-c', join(work, 'tc.zip'), 'golang.org'], { cwd: join(work, 'tree') });
    zip = readFileSync(join(work, 'tc.zip'));
    // The hash the checksum database would record (zip.test.ts checks this computation against the go command's).
    recorded = await unzipInto(zip, join(work, 'oracle'), { prefix: `golang.org/toolchain@${moduleVersion}/`, maxEntries: 100, maxBytes: 1 << 20 });
    server = createServer((request, response) => {
      asked.push(request.url ?? '');
      if (request.url === '/golang.org/toolchain/@v/list') return response.end(`v0.0.1-go1.99.1.${platform}\nv0.0.1-go1.98.0.darwin-arm64\n`);
      if (request.url === `/golang.org/toolchain/@v/${moduleVersion}.zip`) return response.end(zip);
      if (request.url === `/sumdb/sum.golang.org/lookup/golang.org/toolchain@${moduleVersion}`) return response.end(`1234\ngolang.org/toolchain ${moduleVersion} ${recorded}\ngolang.org/toolchain ${moduleVersion}/go.mod h1:${'A'.repeat(43)}=\n\ngo.sum database tree\n`);
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("lists this machine's toolchains, fetches one checked against the checksum database's record, once", async () => {
    const folder = join(work, 'good');
    const toolchains = new GoToolchains(folder, { proxy });
    assert.deepEqual(await toolchains.releases(), ['1.99.1']);
    let fetches = 0;
    const go = await toolchains.ensure('1.99.1', () => fetches++);
    assert.equal(execFileSync(join(go, 'bin', 'go'), { encoding: 'utf8' }), 'go1.99.1 from the test proxy\n');
    assert.equal(await new GoToolchains(folder, { proxy: 'http://127.0.0.1:1' }).ensure('1.99.1', () => fetches++), go, 'kept: a second Dormant needs no proxy');
    assert.equal(fetches, 1);
  });

  it('a zip whose hash is not the recorded one is refused, and nothing is kept', async () => {
    const saved = recorded;
    recorded = `h1:${'B'.repeat(43)}=`;
    try {
      const folder = join(work, 'tampered');
      await assert.rejects(new GoToolchains(folder, { proxy }).ensure('1.99.1'), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'BUILD_GO_UNAVAILABLE');
        assert.match(error.message, /Go 1\.99\.1 cannot be fetched from http:\/\/127\.0\.0\.1:\d+ \(its hash h1:\S+ is not the checksum database's h1:B+=\); push again when the proxy answers/);
        return true;
      });
      assert.deepEqual(existsSync(folder) ? readdirSync(folder) : [], []);
    } finally {
      recorded = saved;
    }
  });

  it('a version the proxy does not have, and a machine that has all the toolchains it keeps, say so', async () => {
    await assert.rejects(new GoToolchains(join(work, 'missing'), { proxy }).ensure('1.98.0'), /the checksum database \(.*\) answered 404/);
    const full = join(work, 'full');
    mkdirSync(join(full, '1.1.0'), { recursive: true });
    await assert.rejects(new GoToolchains(full, { proxy, maxReleases: 1 }).ensure('1.99.1'), /keeps at most 1 toolchains and has them all/);
  });
});
