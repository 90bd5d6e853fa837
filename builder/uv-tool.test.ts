// UvTool against a package index served on loopback by the test (PEP 691 JSON), with a
// wheel made here: the fetch, the sha256 check and the unzip are the real ones.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UvTool } from './uv-tool.js';

const version = '9.9.9';
const arch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
const wheelName = `uv-${version}-py3-none-manylinux_2_17_${arch}.manylinux2014_${arch}.whl`;

describe('UvTool', () => {
  const work = mkdtempSync(join(tmpdir(), 'dormant-uv-'));
  let wheel: Buffer;
  let served: Record<string, { sha256: string; body: Buffer }> = {};
  let server: Server;
  let index = '';

  before(async () => {
    // A wheel as uv's are laid out: the binary under uv-VERSION.data/scripts/.
    const tree = join(work, 'tree');
    mkdirSync(join(tree, `uv-${version}.data`, 'scripts'), { recursive: true });
    writeFileSync(join(tree, `uv-${version}.data`, 'scripts', 'uv'), '#!/bin/sh\necho uv-from-the-test-index\n');
    execFileSync('python3', ['-m', 'zipfile', '-c', join(work, 'uv.whl'), `uv-${version}.data`], { cwd: tree });
    wheel = readFileSync(join(work, 'uv.whl'));
    server = createServer((request, response) => {
      if (request.url === '/simple/uv/') {
        response.setHeader('content-type', 'application/vnd.pypi.simple.v1+json');
        return response.end(JSON.stringify({ files: Object.entries(served).map(([filename, file]) => ({ filename, url: `../../files/${filename}`, hashes: { sha256: file.sha256 } })) }));
      }
      const file = served[request.url?.replace('/files/', '') ?? ''];
      if (!file) return response.writeHead(404).end();
      response.end(file.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    index = `http://127.0.0.1:${(server.address() as AddressInfo).port}/simple`;
  });
  after(() => {
    server.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('fetches the wheel for this machine, checks its sha256 and keeps the binary, executable, once', async () => {
    served = { [wheelName]: { sha256: createHash('sha256').update(wheel).digest('hex'), body: wheel } };
    const tools = join(work, 'good');
    let fetches = 0;
    const folder = await new UvTool(tools, { index, version }).ensure(() => fetches++);
    assert.equal(execFileSync(join(folder, 'uv'), { encoding: 'utf8' }), 'uv-from-the-test-index\n');
    assert.equal(statSync(join(folder, 'uv')).mode & 0o777, 0o755);
    served = {};
    assert.equal(await new UvTool(tools, { index, version }).ensure(() => fetches++), folder, 'a second Dormant finds it without the index');
    assert.equal(fetches, 1);
  });

  it('a wheel that does not match the index’s sha256 is refused and nothing is kept', async () => {
    served = { [wheelName]: { sha256: createHash('sha256').update('another wheel').digest('hex'), body: wheel } };
    const tools = join(work, 'tampered');
    await assert.rejects(new UvTool(tools, { index, version }).ensure(), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'BUILD_PYTHON_UNAVAILABLE');
      assert.match(error.message, /uv 9\.9\.9 cannot be fetched from http:\/\/127\.0\.0\.1:\d+\/simple \(the wheel does not match the index's sha256\); push again when the index answers/);
      return true;
    });
    assert.equal(existsSync(tools) ? readdirSync(tools).length : 0, 0);
  });

  it('an index without that version, or a wheel without the binary, says so', async () => {
    served = {};
    await assert.rejects(new UvTool(join(work, 'none'), { index, version }).ensure(), /lists no uv-9\.9\.9-py3-none-manylinux_2_17_/);
    const empty = join(work, 'empty');
    mkdirSync(join(empty, 'other'), { recursive: true });
    writeFileSync(join(empty, 'other', 'file'), 'x');
    execFileSync('python3', ['-m', 'zipfile', '-c', join(work, 'empty.whl'), 'other'], { cwd: empty });
    const hollow = readFileSync(join(work, 'empty.whl'));
    served = { [wheelName]: { sha256: createHash('sha256').update(hollow).digest('hex'), body: hollow } };
    await assert.rejects(new UvTool(join(work, 'hollow'), { index, version }).ensure(), /the archive has no uv-9\.9\.9\.data\/scripts\/uv/);
  });
});
