import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isDormantError } from '../errors/index.js';
import { type BuildPlan, choosePackageManager, detectBuild, procfileWeb, shellStart, slimInstead } from './detect.js';
import { chooseNode, type NodeRequest } from './node-version.js';

const made: string[] = [];
after(() => Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true }))));

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dormant-detect-'));
  made.push(dir);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

const pkg = (manifest: Record<string, unknown>) => JSON.stringify({ name: 'app', ...manifest });
/** Releases as the registry might list them; the stack's node is 20.20.2. */
const releases = ['4.0.0', '18.20.4', '20.20.2', '22.12.0', '22.23.5', '26.0.0-rc.1'];
const options = { chooseNode: async (request: NodeRequest | undefined) => chooseNode(request, releases, 'v20.20.2'), strategy: 'auto' } as const;

interface Row {
  readonly name: string;
  readonly files: Record<string, string>;
  readonly summary?: string;
  readonly steps?: readonly string[];
  readonly start?: readonly string[];
  readonly error?: string;
  readonly strategy?: 'auto' | 'dockerfile';
}

const rows: readonly Row[] = [
  {
    name: 'package.json with a lockfile: npm ci, then the build script; starts its start script',
    files: { 'package.json': pkg({ dependencies: { a: '1' }, scripts: { build: 'tsc', start: 'node dist/main.js' } }), 'package-lock.json': '{}' },
    summary: 'node 20, npm ci',
    steps: ['npm ci', 'npm run build'],
    start: ['/bin/sh', '-c', 'PATH="$PWD/node_modules/.bin:$PATH" exec node dist/main.js'],
  },
  {
    name: 'package.json with dependencies and no lockfile: npm install',
    files: { 'package.json': pkg({ dependencies: { a: '1' }, scripts: { start: 'node index.js' } }) },
    summary: 'node 20, npm install',
    steps: ['npm install'],
  },
  { name: 'package.json without dependencies: nothing to install', files: { 'package.json': pkg({ scripts: { start: 'node s.js' } }) }, summary: 'node 20, no dependencies', steps: [] },
  {
    name: 'no start script but a server.js: node server.js, as npm start does',
    files: { 'package.json': pkg({}), 'server.js': '' },
    start: ['/bin/sh', '-c', 'PATH="$PWD/node_modules/.bin:$PATH" exec node server.js'],
  },
  {
    name: "a Procfile's web line wins over the start script",
    files: { 'package.json': pkg({ scripts: { start: 'node a.js' } }), Procfile: 'worker: node w.js\nweb: node web.js\n' },
    summary: 'node 20, no dependencies, Procfile',
    start: ['/bin/sh', '-c', 'PATH="$PWD/node_modules/.bin:$PATH" exec node web.js'],
  },
  { name: 'a Procfile alone', files: { Procfile: 'web: ./run --port $PORT\n' }, summary: 'Procfile', steps: [] },
  { name: 'index.html alone: a static site', files: { 'index.html': '<p>hi</p>' }, summary: 'static site', start: ['node', '.dormant-static-server.cjs'] },
  { name: 'engines.node that the stack meets, and no newer release does', files: { 'package.json': pkg({ engines: { node: '>=18 <21' }, scripts: { start: 'node s.js' } }) }, summary: 'node 20.20.2 (>=18 <21 in engines.node), no dependencies' },
  { name: 'engines.node the stack does not meet: the newest release that does', files: { 'package.json': pkg({ engines: { node: '^22' }, scripts: { start: 'x' } }) }, summary: 'node 22.23.5 (^22 in engines.node), no dependencies' },
  { name: 'an old exact engines.node', files: { 'package.json': pkg({ engines: { node: '4.0.0' }, scripts: { start: 'x' } }) }, summary: 'node 4.0.0 (4.0.0 in engines.node), no dependencies' },
  { name: '.nvmrc with an nvm alias', files: { 'package.json': pkg({ scripts: { start: 'x' } }), '.nvmrc': 'lts/hydrogen\n' }, summary: 'node 18.20.4 (lts/hydrogen in .nvmrc), no dependencies' },
  { name: '.node-version with a v', files: { 'package.json': pkg({ scripts: { start: 'x' } }), '.node-version': 'v22\n' }, summary: 'node 22.23.5 (v22 in .node-version), no dependencies' },
  { name: 'engines.node wins over .nvmrc', files: { 'package.json': pkg({ engines: { node: '20.x' }, scripts: { start: 'x' } }), '.nvmrc': '18' }, summary: 'node 20.20.2 (20.x in engines.node), no dependencies' },
  { name: 'engines.node no release meets', files: { 'package.json': pkg({ engines: { node: '>=99' } }) }, error: 'BUILD_NODE_VERSION: engines.node asks for Node ">=99", but no Node release satisfies it (releases here run from 4.0.0 to 22.23.5)' },
  { name: 'engines.node that is not a range', files: { 'package.json': pkg({ engines: { node: 'latest please' } }) }, error: 'BUILD_NODE_VERSION: engines.node asks for Node "latest please", but it is not a version, a semver range or an nvm alias' },
  {
    name: 'a pnpm lockfile: pnpm for its format, and pnpm runs the build script',
    files: { 'package.json': pkg({ scripts: { build: 'x', start: 'node s.js' } }), 'pnpm-lock.yaml': "lockfileVersion: '6.0'\n" },
    summary: 'node 20, pnpm install --frozen-lockfile (pnpm 8.15.9 for lockfileVersion 6)',
    steps: ['pnpm install --frozen-lockfile', 'pnpm run build'],
  },
  {
    name: 'heroku-postbuild instead of build, then the devDependencies pruned',
    files: { 'package.json': pkg({ scripts: { build: 'b', 'heroku-postbuild': 'h', start: 'x' }, devDependencies: { typescript: '5' } }), 'package-lock.json': '{}' },
    steps: ['npm ci', 'npm run heroku-postbuild', 'npm prune --omit=dev'],
  },
  { name: 'yarn 1 prunes with an offline production install', files: { 'package.json': pkg({ scripts: { start: 'x' }, devDependencies: { a: '1' } }), 'yarn.lock': '# yarn lockfile v1\n' }, steps: ['yarn install --frozen-lockfile', 'yarn install --production'] },
  { name: 'yarn 2+ keeps its devDependencies (pruning needs a plugin)', files: { 'package.json': pkg({ scripts: { start: 'x' }, devDependencies: { a: '1' } }), 'yarn.lock': '__metadata:\n  version: 8\n' }, steps: ['yarn install --immutable'] },
  { name: 'a yarn 1 lockfile', files: { 'package.json': pkg({ scripts: { start: 'x' } }), 'yarn.lock': '# yarn lockfile v1\n' }, steps: ['yarn install --frozen-lockfile'] },
  { name: 'a yarn 2+ lockfile', files: { 'package.json': pkg({ scripts: { start: 'x' } }), 'yarn.lock': '__metadata:\n  version: 8\n' }, steps: ['yarn install --immutable'] },
  { name: 'a packageManager pin that is not NAME@VERSION', files: { 'package.json': pkg({ packageManager: 'pnpm', scripts: { start: 'x' } }), 'pnpm-lock.yaml': '' }, error: `BUILD_PACKAGE_MANAGER: package.json's packageManager "pnpm" cannot be used: it is not NAME@VERSION` },
  { name: 'package.json that is not JSON', files: { 'package.json': '{' }, error: 'BUILD_BAD_PACKAGE_JSON: package.json is not valid JSON' },
  { name: 'package.json with no way to start', files: { 'package.json': pkg({}) }, error: 'BUILD_NO_START: nothing says how to start this app' },
  { name: 'a Procfile without web', files: { Procfile: 'worker: x\n' }, error: 'BUILD_PROCFILE_NO_WEB: the Procfile has no web: line' },
  { name: 'a Dockerfile: podman builds it, even beside a package.json', files: { Dockerfile: 'FROM node:20-slim AS build\nFROM build\n', 'package.json': pkg({}) }, summary: 'Dockerfile, FROM node:20-slim', start: [] },
  { name: 'strategy dockerfile without a Dockerfile', files: { 'package.json': pkg({ scripts: { start: 'x' } }) }, strategy: 'dockerfile', error: 'BUILD_NO_DOCKERFILE: spec.build.strategy is dockerfile, but the repository has no Dockerfile' },
  { name: 'FROM an Alpine image, with the slim tag suggested', files: { Dockerfile: 'FROM --platform=linux/amd64 node:20-alpine3.19\n' }, error: 'BUILD_ALPINE: FROM node:20-alpine3.19: Alpine images cannot be made here (no Alpine mirror is reachable, and the bases are made from Debian\'s packages); use node:20-slim instead' },
  {
    name: 'a Django app with a Procfile: the language comes from its files, not the Procfile, and Python is refused before any work',
    files: { Procfile: 'web: gunicorn mysite.wsgi\n', 'requirements.txt': 'Django>=5\ngunicorn\n', 'manage.py': '#!/usr/bin/env python\n' },
    error: 'BUILD_LANGUAGE_UNSUPPORTED: this looks like a Python app (requirements.txt), which Dormant does not build yet: it builds Node apps (package.json), static sites (index.html) and Dockerfiles; add a Dockerfile to deploy it as it is',
  },
  { name: 'a Flask app without a Procfile', files: { 'requirements.txt': 'flask\n', 'pyproject.toml': '[project]\n', 'app.py': 'app = None\n' }, error: 'BUILD_LANGUAGE_UNSUPPORTED: this looks like a Python app (requirements.txt, pyproject.toml), which Dormant does not build yet' },
  { name: 'a Go module', files: { 'go.mod': 'module example.com/hello\n', 'main.go': 'package main\n' }, error: 'BUILD_LANGUAGE_UNSUPPORTED: this looks like a Go app (go.mod), which Dormant does not build yet' },
  { name: 'a Rails app: not built, with the Dockerfile way out', files: { Gemfile: "source 'https://rubygems.org'\n", 'config.ru': 'run App\n' }, error: 'BUILD_LANGUAGE_UNSUPPORTED: this looks like a Ruby app (Gemfile, config.ru), which Dormant does not build: it builds Node apps' },
  { name: 'package.json wins over a requirements.txt beside it', files: { 'package.json': pkg({ scripts: { start: 'x' } }), 'requirements.txt': 'x\n' }, summary: 'node 20, no dependencies' },
  { name: 'a Dockerfile wins over a Gemfile', files: { Dockerfile: 'FROM debian:bookworm-slim\nCMD ["true"]\n', Gemfile: '' }, summary: 'Dockerfile, FROM debian:bookworm-slim' },
  { name: 'nothing known', files: { 'README.md': '# hi' }, error: 'BUILD_UNKNOWN_APP: Dormant cannot tell how to run this repository' },
];

describe('build detection', () => {
  for (const row of rows) {
    it(row.name, async () => {
      const dir = await tree(row.files);
      let plan: BuildPlan | undefined;
      try {
        plan = await detectBuild(dir, { ...options, strategy: row.strategy ?? 'auto' });
      } catch (error) {
        if (!isDormantError(error) || row.error === undefined) throw error;
        assert.ok(`${error.code}: ${error.message}`.startsWith(row.error), `${error.code}: ${error.message}`);
        return;
      }
      assert.equal(row.error, undefined, `expected ${row.error}, got a plan`);
      if (row.summary !== undefined) assert.equal(plan.summary, row.summary);
      if (row.steps !== undefined) assert.deepEqual(plan.steps.map((s) => s.name), row.steps);
      if (row.start !== undefined) assert.deepEqual(plan.start, row.start);
    });
  }

  it("refuses a package.json, Dockerfile or build context that links out of the tree, without reading what it names", async () => {
    const secret = await tree({ 'key.json': '{"private": "-----BEGIN OPENSSH PRIVATE KEY-----"}' });
    for (const [link, target] of [['package.json', 'key.json'], ['Dockerfile', 'key.json'], ['Procfile', 'key.json']] as const) {
      const dir = await tree({ 'index.html': '<p>hi</p>' });
      await symlink(join(secret, target), join(dir, link));
      await assert.rejects(detectBuild(dir, options), (error: Error) => {
        assert.ok(isDormantError(error) && error.code === 'BUILD_LINK_LEAVES_SOURCE', error.message);
        assert.doesNotMatch(error.message, /PRIVATE KEY/);
        assert.match(error.message, new RegExp(`^${link} is a symbolic link to a path outside the repository`));
        return true;
      });
    }
    const context = await tree({ 'Dockerfile': 'FROM node:20-slim\n' });
    await symlink('/', join(context, 'ctx'));
    await assert.rejects(detectBuild(context, { ...options, strategy: 'dockerfile', context: 'ctx', dockerfile: '../Dockerfile' }), /BUILD_LINK_LEAVES_SOURCE|ctx is a symbolic link/);
    // A link inside the tree is followed.
    const inside = await tree({ 'real.json': pkg({ scripts: { start: 'node server.js' } }) });
    await symlink('real.json', join(inside, 'package.json'));
    assert.equal((await detectBuild(inside, options)).kind, 'node');
  });

  it("a link out of the tree counts as a file whether or not its target exists: detection probes none of Dormant's paths", async () => {
    const plans: string[] = [];
    for (const target of ['/etc/hostname', '/nonexistent/dormant-probe']) {
      const dir = await tree({ 'package.json': pkg({ scripts: { start: 'node server.js' }, dependencies: { a: '1' } }) });
      await symlink(target, join(dir, 'pnpm-lock.yaml'));
      plans.push(await detectBuild(dir, options).then((plan) => plan.summary, (error: Error) => error.message));
    }
    assert.match(plans[0] ?? '', /pnpm-lock\.yaml is a symbolic link to a path outside the repository/);
    assert.equal(plans[0], plans[1]);
  });

  it('has no duplicate row names', () => assert.equal(new Set(rows.map((r) => r.name)).size, rows.length));

  it('suggests a Debian-based tag for an Alpine one, changing only the tag', () => {
    assert.equal(slimInstead('node:20-alpine3.19'), 'node:20-slim');
    assert.equal(slimInstead('node:alpine'), 'node:bookworm-slim');
    assert.equal(slimInstead('alpine:3.19'), 'debian:bookworm-slim');
    assert.equal(slimInstead('alpine'), 'debian:bookworm-slim');
    assert.equal(slimInstead('127.0.0.1:5000/myorg/alpine-node:20-alpine'), '127.0.0.1:5000/myorg/alpine-node:20-slim');
  });

  it('reads the web line of a Procfile and runs a compound start line through the shell without exec', () => {
    assert.equal(procfileWeb('# comment\nweb:   bundle exec puma  \n'), 'bundle exec puma');
    assert.equal(procfileWeb('worker: x'), undefined);
    assert.deepEqual(shellStart('npm run migrate && node s.js'), ['/bin/sh', '-c', 'export PATH="$PWD/node_modules/.bin:$PATH"; npm run migrate && node s.js']);
  });
});

describe('which yarn or pnpm builds an app', () => {
  const rows: { name: string; tool: 'pnpm' | 'yarn'; pin?: unknown; lockfile: string; chosen?: string; error?: RegExp }[] = [
    { name: 'a pin names the version', tool: 'pnpm', pin: 'pnpm@10.2.1', lockfile: "lockfileVersion: '9.0'\n", chosen: 'pnpm 10.2.1 pnpm from packageManager' },
    { name: "a pin's sha512 is kept, to check the download against", tool: 'pnpm', pin: 'pnpm@9.15.9+sha512.00ff', lockfile: '', chosen: 'pnpm 9.15.9 pnpm from packageManager 00ff' },
    { name: 'another hash is not checked', tool: 'yarn', pin: 'yarn@1.22.19+sha224.00ff', lockfile: '', chosen: 'yarn 1.22.19 yarn from packageManager' },
    { name: 'yarn 2 and later come from @yarnpkg/cli-dist', tool: 'yarn', pin: 'yarn@4.5.0', lockfile: '__metadata:\n  version: 8\n', chosen: 'yarn 4.5.0 @yarnpkg/cli-dist from packageManager' },
    { name: "a pin of another tool: the lockfile's format decides", tool: 'pnpm', pin: 'yarn@1.22.22', lockfile: 'lockfileVersion: 5.4\n', chosen: 'pnpm 7.33.7 pnpm for lockfileVersion 5.4' },
    { name: 'pnpm-lock.yaml 9.0: pnpm 9', tool: 'pnpm', lockfile: "lockfileVersion: '9.0'\n", chosen: 'pnpm 9.15.9 pnpm for lockfileVersion 9' },
    { name: 'pnpm-lock.yaml 6.1: pnpm 8', tool: 'pnpm', lockfile: "lockfileVersion: '6.1'\n", chosen: 'pnpm 8.15.9 pnpm for lockfileVersion 6.1' },
    { name: 'pnpm-lock.yaml 5.3: pnpm 6', tool: 'pnpm', lockfile: 'lockfileVersion: 5.3\n', chosen: 'pnpm 6.35.1 pnpm for lockfileVersion 5.3' },
    { name: 'pnpm-lock.yaml without a version: pnpm 9', tool: 'pnpm', lockfile: '', chosen: 'pnpm 9.15.9 pnpm the newest pnpm 9: pnpm-lock.yaml names no lockfileVersion' },
    { name: 'a yarn 1 lockfile: yarn 1', tool: 'yarn', lockfile: '# yarn lockfile v1\n', chosen: 'yarn 1.22.22 yarn for a yarn 1 lockfile' },
    { name: 'yarn.lock __metadata 6: yarn 3', tool: 'yarn', lockfile: '# x\n\n__metadata:\n  version: 6\n  cacheKey: 8\n', chosen: 'yarn 3.8.7 @yarnpkg/cli-dist for lockfile __metadata version 6' },
    { name: 'yarn.lock __metadata 8: yarn 4', tool: 'yarn', lockfile: '__metadata:\n  version: 8\n', chosen: 'yarn 4.18.1 @yarnpkg/cli-dist for lockfile __metadata version 8' },
    { name: 'a pin that is not NAME@VERSION', tool: 'pnpm', pin: 'pnpm@latest; rm -rf /', lockfile: '', error: /BUILD_PACKAGE_MANAGER|not NAME@VERSION/ },
    { name: 'a pin with a range', tool: 'pnpm', pin: 'pnpm@^9', lockfile: '', error: /\^9 is not an exact version/ },
    { name: 'a pin that is not a string', tool: 'pnpm', pin: { name: 'pnpm' }, lockfile: '', error: /it is not a string of at most 256 characters/ },
    // Read in linear time: a crafted lockfile cannot hold Dormant's event loop (the old pattern took about 17 minutes on 1 MB of this).
    { name: 'a yarn.lock made to make a pattern backtrack: read at once, as yarn 1', tool: 'yarn', lockfile: `__metadata:${'\n'.repeat(2_000_000)}x`, chosen: 'yarn 1.22.22 yarn for a yarn 1 lockfile' },
    { name: 'a pnpm-lock.yaml made the same way', tool: 'pnpm', lockfile: `lockfileVersion:${' \n'.repeat(1_000_000)}x`, chosen: 'pnpm 9.15.9 pnpm the newest pnpm 9: pnpm-lock.yaml names no lockfileVersion' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      if (row.error) {
        assert.throws(() => choosePackageManager(row.tool, row.pin, row.lockfile), row.error);
        return;
      }
      const chosen = choosePackageManager(row.tool, row.pin, row.lockfile);
      assert.equal([chosen.name, chosen.version, chosen.npmPackage, chosen.why, ...(chosen.sha512 ? [chosen.sha512] : [])].join(' '), row.chosen);
    });
  }
});
