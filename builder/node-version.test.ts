import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseNode, nodeRange, nodeRequest } from './node-version.js';

describe('nodeRequest: what the app asks for, first found', () => {
  it('engines.node, then volta.node, then .nvmrc, then .node-version', () => {
    assert.deepEqual(nodeRequest({ engines: ' >=18 ', volta: '20.1.0', nvmrc: '16' }), { wanted: '>=18', from: 'engines.node' });
    assert.deepEqual(nodeRequest({ volta: '20.1.0', nvmrc: '16' }), { wanted: '20.1.0', from: 'volta.node' });
    assert.deepEqual(nodeRequest({ nvmrc: '# pinned\n\nv18.17.0 # LTS\n', nodeVersionFile: '16' }), { wanted: 'v18.17.0', from: '.nvmrc' });
    assert.deepEqual(nodeRequest({ nodeVersionFile: '22\r\n' }), { wanted: '22', from: '.node-version' });
  });
  it('an empty or non-string field says nothing', () => {
    assert.equal(nodeRequest({ engines: '', volta: 22, nvmrc: '\n# nothing\n' }), undefined);
    assert.equal(nodeRequest({}), undefined);
  });
});

describe('nodeRange', () => {
  const rows: [string, string | undefined][] = [
    ['22', '22'],
    ['v18.17.0', '18.17.0'],
    ['>=v16 <v20', '>=16 <20'],
    ['22.x', '22.x'],
    ['lts/iron', '20.x'],
    ['lts/*', '24.x'],
    ['node', '*'],
    ['latest', '*'],
    ['lts/nonesuch', undefined],
    ['system', undefined],
    ['latest please', undefined],
  ];
  for (const [wanted, range] of rows) it(`${JSON.stringify(wanted)} is ${range ?? 'not a range'}`, () => assert.equal(nodeRange(wanted), range));
});

describe('chooseNode', () => {
  const releases = ['0.10.48', '4.0.0', '4.1.0-pkg1', '18.20.4', '20.20.2', '22.12.0', '22.23.5', 'v23.0.0', '26.0.0-rc.1'];
  it("no request: the stack's node, with how to choose another", () => {
    assert.deepEqual(chooseNode(undefined, releases, 'v20.20.2'), { version: '20.20.2', fromStack: true, why: 'the stack’s; set engines.node to choose another' });
  });
  it('the newest release that satisfies the range (a v-tagged one read without its v), prereleases and odd tags left out', () => {
    assert.deepEqual(chooseNode({ wanted: '>=20', from: 'engines.node' }, releases, '20.20.2'), { version: '23.0.0', fromStack: false, why: '>=20 in engines.node' });
    assert.equal(chooseNode({ wanted: '^22', from: 'engines.node' }, releases, '20.20.2').version, '22.23.5');
    assert.equal(chooseNode({ wanted: '4.x', from: '.nvmrc' }, releases, '20.20.2').version, '4.0.0');
  });
  it("the stack's node when it is the newest that satisfies, even if the registry lists none", () => {
    assert.deepEqual(chooseNode({ wanted: '20', from: '.node-version' }, [], '20.20.2'), { version: '20.20.2', fromStack: true, why: '20 in .node-version' });
  });
  it('none satisfies: BUILD_NODE_VERSION with the releases that can be had', () => {
    assert.throws(() => chooseNode({ wanted: '>=99', from: 'engines.node' }, releases, '20.20.2'), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'BUILD_NODE_VERSION');
      assert.equal(error.message, 'engines.node asks for Node ">=99", but no Node release satisfies it (releases here run from 0.10.48 to 23.0.0); ask for a release that exists, such as "22.x" or ">=20"');
      return true;
    });
  });
  it('a request over 256 characters is refused before it is tested against any release', () => {
    assert.throws(() => chooseNode({ wanted: '>=1 '.repeat(100), from: 'engines.node' }, releases, '20.20.2'), /engines\.node asks for Node ">=1 >=1 .*…", but it is longer than 256 characters/);
  });
  it('not a range: BUILD_NODE_VERSION naming what would be', () => {
    assert.throws(() => chooseNode({ wanted: 'system', from: '.nvmrc' }, releases, '20.20.2'), /\.nvmrc asks for Node "system", but it is not a version, a semver range or an nvm alias/);
  });
});
