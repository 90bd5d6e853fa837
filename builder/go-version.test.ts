import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { binaryName, isMainPackage } from './detect-go.js';
import { chooseGo, parseGoMod, toolchainVersions } from './go-version.js';

describe('parseGoMod', () => {
  it('reads module, go and toolchain, ignoring comments, blocks and later repeats', () => {
    const text = '// hello\nmodule "example.com/hello" // the module\n\ngo 1.22.3\ntoolchain go1.23.4\n\nrequire (\n\tgo 1.0\n)\ngo 1.10\n';
    assert.deepEqual(parseGoMod(text), { module: 'example.com/hello', go: '1.22.3', toolchain: 'go1.23.4' });
    assert.deepEqual(parseGoMod(''), { module: undefined, go: undefined, toolchain: undefined });
  });
});

describe('toolchainVersions', () => {
  it("keeps this platform's releases from the proxy's list, without go", () => {
    const list = 'v0.0.1-go1.22.3.linux-amd64\nv0.0.1-go1.22.3.darwin-arm64\nv0.0.1-go1.23rc1.linux-amd64\nv0.0.1-go1.21.0.linux-amd64\n\n';
    assert.deepEqual(toolchainVersions(list, 'linux-amd64'), ['1.22.3', '1.21.0']);
  });
});

describe('chooseGo', () => {
  const releases = ['1.21.0', '1.22.3', '1.22.12', '1.26.8', '1.26.10', '1.3.3'];
  const rows: { name: string; goMod: string; version?: string; why?: string; error?: RegExp }[] = [
    { name: 'a go line: the newest patch release of its line', goMod: 'go 1.22', version: '1.22.12', why: 'go 1.22 in go.mod' },
    { name: 'a go line with a patch: the newest at or after it', goMod: 'go 1.22.5', version: '1.22.12' },
    { name: 'a toolchain line wins over the go line', goMod: 'go 1.21\ntoolchain go1.26.8', version: '1.26.10', why: 'toolchain go1.26.8 in go.mod' },
    { name: 'no go line: the newest', goMod: 'module m', version: '1.26.10', why: 'the newest; go.mod names no go line' },
    { name: 'a line never published as a module: the newest, said so', goMod: 'go 1.16', version: '1.26.10', why: 'go 1.16 in go.mod (no 1.16 toolchain is published: the newest Go builds it)' },
    { name: 'a prerelease: the newest release, said so', goMod: 'go 1.27rc1', version: '1.26.10', why: 'go 1.27rc1 in go.mod is a prerelease: the newest release instead' },
    { name: 'newer than any: refused', goMod: 'go 1.30', error: /go\.mod asks for Go "1\.30", but the newest Go the proxy has is 1\.26\.10; set its go line/ },
    { name: 'nonsense: refused', goMod: 'go latest', error: /asks for Go "latest", but it is not a Go version/ },
  ];
  for (const row of rows) {
    it(row.name, () => {
      if (row.error) return assert.throws(() => chooseGo(parseGoMod(row.goMod), releases), row.error);
      const choice = chooseGo(parseGoMod(row.goMod), releases);
      assert.equal(choice.version, row.version);
      if (row.why) assert.equal(choice.why, row.why);
    });
  }
  it('no toolchains at all: BUILD_GO_UNAVAILABLE', () => assert.throws(() => chooseGo(parseGoMod('go 1.22'), []), (error: Error & { code?: string }) => error.code === 'BUILD_GO_UNAVAILABLE'));
});

describe('main packages and their binaries', () => {
  it('the package clause after comments and build constraints', () => {
    assert.equal(isMainPackage('//go:build linux\n\n/* a\npackage lib */\npackage main\n'), true);
    assert.equal(isMainPackage('// package main\npackage mainly\n'), false);
    assert.equal(isMainPackage('package main // the command\n'), true);
    assert.equal(isMainPackage(''), false);
  });
  it("go build's names: the import path's last element, not a major version suffix", () => {
    assert.equal(binaryName('github.com/x/hello'), 'hello');
    assert.equal(binaryName('github.com/x/hello/v3'), 'hello');
    assert.equal(binaryName('v2'), 'v2');
  });
});
