// git push to a real `dormant up` with the real git and OpenSSH clients: deploys, updates,
// rejections, access control, concurrency, big histories and garbage on the wire.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type DormantUp, nodeApp, runProgram, sshCommand, sshKey, startDormant, WorkingCopy } from './git-support.js';

let d: DormantUp;
before(async () => {
  d = await startDormant();
});
after(async () => {
  await d?.stop();
});

/** The commit a branch of an app's repository on the server points to. */
async function serverRef(app: string, branch = 'main'): Promise<string> {
  const result = await runProgram('git', ['--git-dir', join(d.stateDir, 'repos', `${app}.git`), 'rev-parse', '--verify', '-q', `refs/heads/${branch}`]);
  return result.stdout.trim();
}

/** Until the app answers with 200 (a wake-up from zero included). */
async function answer(app: string): Promise<string> {
  const response = await d.get(app);
  assert.equal(response.status, 200, `${app} answered ${response.status}: ${response.body}`);
  return response.body.trim();
}

/** [name, phase] of an app's revisions, newest first, as `dormant revisions` lists them. */
async function revisionPhases(app: string): Promise<[string, string][]> {
  const revisions = JSON.parse((await d.dormant('revisions', app, '-o', 'json')).stdout) as { metadata: { name: string }; status?: { phase: string } }[];
  return revisions.map((r) => [r.metadata.name, r.status?.phase ?? 'none']);
}

describe('git push deploys', () => {
  it('a first push of a Node app creates the app, deploys it and prints the URL; it answers there', async (t: TestContext) => {
    const copy = await WorkingCopy.create(d.work, 'hello', d.adminKey);
    await copy.commit(nodeApp('v1'), 'v1');
    const started = performance.now();
    const pushed = await copy.push(d.remote('hello'));
    const pushMs = performance.now() - started;
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /remote: -----> Building hello \(node \d+, no dependencies\) from main [0-9a-f]{7}/);
    assert.match(pushed.stderr, new RegExp(`remote: -----> Deployed hello-00001 to http://hello\\.localhost:${d.httpPort} \\(`));
    assert.match(pushed.stderr, /\* \[new branch\] +main -> main/);
    const served = performance.now();
    assert.equal(await answer('hello'), 'v1');
    const perStep = /Deployed hello-00001 to \S+ \(([^)]*)\)/.exec(pushed.stderr)?.[1];
    t.diagnostic(`push to serving: git push ${pushMs.toFixed(0)} ms (${perStep}), then the first request from zero ${(performance.now() - served).toFixed(0)} ms`);
    const apps = JSON.parse((await d.dormant('apps', '-o', 'json')).stdout) as { name: string }[];
    assert.ok(apps.some((a) => a.name === 'hello'));
    assert.deepEqual(await revisionPhases('hello'), [['hello-00001', 'Ready']]);
  });

  it('a second push updates the app: only the new version answers after the push returns', async () => {
    const first = await WorkingCopy.create(d.work, 'update', d.adminKey);
    await first.commit(nodeApp('u1'), 'u1');
    assert.equal((await first.push(d.remote('update'))).code, 0);
    assert.equal(await answer('update'), 'u1');
    await first.commit(nodeApp('u2'), 'u2');
    const second = await first.push(d.remote('update'));
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /Deployed update-00002/);
    for (let i = 0; i < 5; i++) assert.equal(await answer('update'), 'u2');

    // A deleted app's name takes a new, unrelated history.
    assert.ok(existsSync(join(d.stateDir, 'cache', 'apps', 'update')), 'its builds had a cache');
    assert.match((await d.dormant('apps', 'delete', 'update', '--confirm', 'update')).stdout, /app update deleted \(2 revisions, its git repository, releases and build cache\)/);
    // Its cache goes too: a new app of the same name (the same uid) must not find what the old one left there.
    assert.equal(existsSync(join(d.stateDir, 'cache', 'apps', 'update')), false);
    const fresh = await WorkingCopy.create(d.work, 'update-again', d.adminKey);
    await fresh.commit(nodeApp('again'), 'unrelated');
    const again = await fresh.push(d.remote('update'));
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /Deployed update-00001/);
    assert.equal(await answer('update'), 'again');
  });

  it('a push whose build fails is rejected with the step named; the old version keeps answering and the ref stays', async () => {
    const copy = await WorkingCopy.create(d.work, 'breaks', d.adminKey);
    await copy.commit(nodeApp('b1'), 'b1');
    assert.equal((await copy.push(d.remote('breaks'))).code, 0);
    const good = await serverRef('breaks');
    await copy.commit(
      { 'package.json': JSON.stringify({ name: 'breaks', scripts: { build: 'echo compiling the broken thing; exit 3', start: 'node server.js' } }) },
      'broken build',
    );
    const pushed = await copy.push(d.remote('breaks'));
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.stderr, /remote: +compiling the broken thing/);
    assert.match(pushed.stderr, /! \[remote rejected\] main -> main \(build failed: npm run build exited 3\)/);
    assert.equal(await serverRef('breaks'), good, 'the ref did not move');
    assert.equal(await answer('breaks'), 'b1');
    assert.deepEqual(await revisionPhases('breaks'), [
      ['breaks-00002', 'Failed'],
      ['breaks-00001', 'Ready'],
    ]);
  });

  it('an app that crashes on start is rejected and the previous revision keeps serving', async () => {
    const copy = await WorkingCopy.create(d.work, 'crashes', d.adminKey);
    await copy.commit(nodeApp('c1'), 'c1');
    assert.equal((await copy.push(d.remote('crashes'))).code, 0);
    await copy.commit({ 'server.js': "console.error('missing DATABASE_URL'); process.exit(1);\n" }, 'crash');
    const pushed = await copy.push(d.remote('crashes'));
    assert.match(pushed.stderr, /remote: .*missing DATABASE_URL/);
    // The line beside the ref says why in a few words: the exit and the app's last line.
    assert.match(pushed.stderr, /! \[remote rejected\] main -> main \(deploy failed: replica crashes-00002-\w+ exited with code 1: missing DATABASE_URL\)/);
    assert.match(pushed.stderr, /remote: .*Its last lines:/);
    assert.equal(await answer('crashes'), 'c1');
  });

  it('a lockfile builds with npm ci and the build script; postDeploy hooks run with the app env, and a failing one rolls back', async () => {
    const hookedApp = (hook: string) =>
      `apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: hooked}\nspec:\n  run: {env: {DATABASE_URL: 'postgres://db/hooked'}}\n  hooks: {postDeploy: [${JSON.stringify(hook)}]}\n`;
    await writeFile(join(d.work, 'hooked.yaml'), hookedApp('echo migrating $DATABASE_URL'));
    assert.equal((await d.dormant('apply', '-f', join(d.work, 'hooked.yaml'))).code, 0);
    const copy = await WorkingCopy.create(d.work, 'hooked', d.adminKey);
    const files = (version: string) => ({
      'package.json': JSON.stringify({ name: 'hooked', version: '1.0.0', dependencies: { greet: 'file:./greet' }, scripts: { build: 'node build.js', start: 'node server.js' } }),
      'greet/package.json': JSON.stringify({ name: 'greet', version: '1.0.0', main: 'index.js' }),
      'greet/index.js': "module.exports = (who) => 'greetings from ' + who;\n",
      'build.js': `require('node:fs').writeFileSync('built.txt', 'built ${version}');\n`,
      'server.js': "const greet = require('greet'); const built = require('node:fs').readFileSync('built.txt', 'utf8');\nrequire('node:http').createServer((q, s) => s.end(greet('hooked') + ', ' + built + '\\n')).listen(process.env.PORT);\n",
    });
    await copy.write(files('p1'));
    const locked = await runProgram('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund'], { cwd: copy.dir });
    assert.equal(locked.code, 0, locked.stderr);
    await copy.commit({}, 'p1');
    const pushed = await copy.push(d.remote('hooked'));
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /Building hooked \(node \d+, npm ci\)/);
    assert.match(pushed.stderr, /remote: -----> npm run build/);
    assert.match(pushed.stderr, /remote: -----> Running postDeploy: echo migrating \$DATABASE_URL\s+remote: +migrating postgres:\/\/db\/hooked/);
    assert.equal(await answer('hooked'), 'greetings from hooked, built p1');

    await writeFile(join(d.work, 'hooked.yaml'), hookedApp('echo migration failed; exit 4'));
    assert.equal((await d.dormant('apply', '-f', join(d.work, 'hooked.yaml'))).code, 0);
    await copy.commit(files('p2'), 'p2');
    const failed = await copy.push(d.remote('hooked'));
    assert.match(failed.stderr, /remote: -----> postDeploy failed: rolling back to hooked-00001/);
    assert.match(failed.stderr, /! \[remote rejected\] main -> main \(postDeploy hook failed: "echo migration failed; exit 4" exited 4\)/);
    assert.equal(await answer('hooked'), 'greetings from hooked, built p1');
  });

  it('a first deploy whose postDeploy hook fails is rejected and stopped: nothing serves it', async () => {
    await writeFile(
      join(d.work, 'first.yaml'),
      'apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: first}\nspec:\n  hooks: {postDeploy: ["exit 7"]}\n',
    );
    assert.equal((await d.dormant('apply', '-f', join(d.work, 'first.yaml'))).code, 0);
    const copy = await WorkingCopy.create(d.work, 'first', d.adminKey);
    await copy.commit(nodeApp('f1'));
    const pushed = await copy.push(d.remote('first'));
    assert.match(pushed.stderr, /stopping the new revision \(there is no earlier one\)/);
    assert.match(pushed.stderr, /! \[remote rejected\] main -> main \(postDeploy hook failed: "exit 7" exited 7\)/);
    const response = await d.get('first');
    assert.equal(response.status, 503, 'nothing serves the app');
    assert.match(response.body, /first has nothing deployed yet. Deploy it with git push/);
  });

  it("a pnpm lockfile builds with the pnpm packageManager pins, its hash checked; a pin whose hash does not match is refused, the old version serving", async () => {
    const copy = await WorkingCopy.create(d.work, 'pnpm', d.adminKey);
    // pnpm@9.15.9's tarball, as pnpm itself writes the field.
    const pin = 'pnpm@9.15.9+sha512.68046141893c66fad01c079231128e9afb89ef87e2691d69e4d40eee228988295fd4682181bae55b58418c3a253bde65a505ec7c5f9403ece5cc3cd37dcf2531';
    const manifest = (packageManager: string) => JSON.stringify({ name: 'pf', version: '1.0.0', packageManager, dependencies: { greet: 'file:./greet' }, scripts: { start: 'node server.js' } });
    await copy.commit({
      'package.json': manifest(pin),
      'greet/package.json': JSON.stringify({ name: 'greet', version: '1.0.0', main: 'index.js' }),
      'greet/index.js': "module.exports = (who) => 'pnpm greets ' + who;\n",
      'server.js': "require('node:http').createServer((q, s) => s.end(require('greet')('you') + '\\n')).listen(process.env.PORT);\n",
      // As pnpm 9.15.9 wrote it for this package.json.
      'pnpm-lock.yaml': [
        "lockfileVersion: '9.0'",
        '',
        'settings:',
        '  autoInstallPeers: true',
        '  excludeLinksFromLockfile: false',
        '',
        'importers:',
        '',
        '  .:',
        '    dependencies:',
        '      greet:',
        '        specifier: file:./greet',
        '        version: file:greet',
        '',
        'packages:',
        '',
        '  greet@file:greet:',
        '    resolution: {directory: greet, type: directory}',
        '',
        'snapshots:',
        '',
        '  greet@file:greet: {}',
        '',
      ].join('\n'),
    });
    const pushed = await copy.push(d.remote('pnpm'));
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /Building pnpm \(node \d+, pnpm install --frozen-lockfile \(pnpm 9\.15\.9 from packageManager\)\)/);
    assert.match(pushed.stderr, /installing pnpm 9\.15\.9 from the npm registry \(once\)/);
    assert.equal(await answer('pnpm'), 'pnpm greets you');

    // pnpm 8, pinned with a hash its tarball does not have.
    await copy.commit({ 'package.json': manifest(`pnpm@8.15.9+sha512.${'ab'.repeat(64)}`) });
    const refused = await copy.push(d.remote('pnpm'));
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /package\.json's packageManager "pnpm@8\.15\.9\+sha512\.abab[0-9a-f]*" cannot be used: the registry's tarball has another hash \(sha512-/);
    assert.equal(await answer('pnpm'), 'pnpm greets you');
  });

  it('a yarn 1 lockfile without a packageManager pin builds with yarn 1.22.22, installed from the npm registry', async () => {
    const copy = await WorkingCopy.create(d.work, 'yarn', d.adminKey);
    await copy.commit({
      'package.json': JSON.stringify({ name: 'yf', version: '1.0.0', dependencies: { greet: 'file:./greet' }, scripts: { start: 'node server.js' } }),
      'greet/package.json': JSON.stringify({ name: 'greet', version: '1.0.0', main: 'index.js' }),
      'greet/index.js': "module.exports = (who) => 'yarn greets ' + who;\n",
      'server.js': "require('node:http').createServer((q, s) => s.end(require('greet')('you') + '\\n')).listen(process.env.PORT);\n",
      // As yarn 1.22.22 wrote it for this package.json.
      'yarn.lock': '# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n\n"greet@file:./greet":\n  version "1.0.0"\n',
    });
    const pushed = await copy.push(d.remote('yarn'));
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /yarn install --frozen-lockfile \(yarn 1\.22\.22 for a yarn 1 lockfile\)/);
    assert.equal(await answer('yarn'), 'yarn greets you');
  });

  it('a build runs in production mode with its devDependencies, which are pruned afterwards; the app runs with NODE_ENV=production unless its config says otherwise', async () => {
    const copy = await WorkingCopy.create(d.work, 'pruned', d.adminKey);
    await copy.commit({
      'package.json': JSON.stringify({ name: 'pruned', version: '1.0.0', dependencies: { greet: 'file:./greet' }, devDependencies: { devtool: 'file:./devtool' }, scripts: { build: 'node build.js', start: 'node server.js' } }),
      'package-lock.json': JSON.stringify({
        name: 'pruned',
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: {
          '': { name: 'pruned', version: '1.0.0', dependencies: { greet: 'file:./greet' }, devDependencies: { devtool: 'file:./devtool' } },
          devtool: { version: '1.0.0', dev: true },
          greet: { version: '1.0.0' },
          'node_modules/devtool': { resolved: 'devtool', link: true },
          'node_modules/greet': { resolved: 'greet', link: true },
        },
      }),
      'greet/package.json': JSON.stringify({ name: 'greet', version: '1.0.0', main: 'index.js' }),
      'greet/index.js': "module.exports = 'greet';\n",
      'devtool/package.json': JSON.stringify({ name: 'devtool', version: '1.0.0', main: 'index.js' }),
      'devtool/index.js': "module.exports = 'devtool';\n",
      'build.js': "require('node:fs').writeFileSync('built.txt', require('devtool') + ' in ' + process.env.NODE_ENV);\n",
      'server.js': `require('node:http').createServer((q, s) => {
  let dev = 'pruned';
  try { dev = require('devtool'); } catch {}
  s.end([require('greet'), require('node:fs').readFileSync('built.txt', 'utf8'), dev, process.env.NODE_ENV].join(', ') + '\\n');
}).listen(process.env.PORT);
`,
    });
    const pushed = await copy.push(d.remote('pruned'));
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /-----> npm run build[\s\S]*-----> npm prune --omit=dev/);
    assert.equal(await answer('pruned'), 'greet, devtool in production, pruned, production');

    // Its postDeploy hooks run with the release's config, production mode included.
    const manifest = (env: string) => `apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: pruned}\nspec:\n  run: {env: {${env}}}\n  hooks: {postDeploy: ["echo hook in $NODE_ENV"]}\n`;
    await writeFile(join(d.work, 'pruned.yaml'), manifest(''));
    assert.equal((await d.dormant('apply', '-f', join(d.work, 'pruned.yaml'))).code, 0);
    await copy.commit({ 'README.md': 'again\n' });
    const hooked = await copy.push(d.remote('pruned'));
    assert.equal(hooked.code, 0, hooked.stderr);
    assert.match(hooked.stderr, /remote: +hook in production/);
    // The App's own NODE_ENV wins.
    await writeFile(join(d.work, 'pruned.yaml'), manifest('NODE_ENV: staging'));
    assert.equal((await d.dormant('apply', '-f', join(d.work, 'pruned.yaml'))).code, 0);
    await copy.commit({ 'README.md': 'and again\n' });
    const staged = await copy.push(d.remote('pruned'));
    assert.match(staged.stderr, /remote: +hook in staging/);
    assert.equal(await answer('pruned'), 'greet, devtool in production, pruned, staging');
  });

  it('a Rails app with a Procfile is refused at checkout, naming Ruby and the files that told it; nothing is left behind', async () => {
    const copy = await WorkingCopy.create(d.work, 'rails', d.adminKey);
    await copy.commit({ Procfile: 'web: bundle exec puma -C config/puma.rb\n', Gemfile: "source 'https://rubygems.org'\ngem 'rails'\n", 'config.ru': 'run Rails.application\n' });
    const pushed = await copy.push(d.remote('rails'));
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.stderr, /! \[remote rejected\] main -> main \(this looks like a Ruby app \(Gemfile, config\.ru\), which Dormant does not build: .*add a Dockerfile to deploy it as it is\)/);
    assert.doesNotMatch(pushed.stderr, /bundle: not found/);
    const revisions = await d.dormant('revisions', 'rails', '--output', 'json');
    assert.match(revisions.stderr, /App "rails" does not exist/, 'a refused first push leaves no App behind');
  });

  it('a static site and a Procfile app deploy', async () => {
    const site = await WorkingCopy.create(d.work, 'site', d.adminKey);
    await site.commit({ 'index.html': '<h1>static</h1>\n', 'css/site.css': 'h1{}\n' });
    const pushedSite = await site.push(d.remote('site'));
    assert.equal(pushedSite.code, 0, pushedSite.stderr);
    assert.match(pushedSite.stderr, /Building site \(static site\)/);
    assert.equal(await answer('site'), '<h1>static</h1>');
    assert.equal((await d.get('site', '/css/site.css')).body, 'h1{}\n');
    assert.equal((await d.get('site', '/missing')).status, 404);

    const proc = await WorkingCopy.create(d.work, 'proc', d.adminKey);
    await proc.commit({
      Procfile: 'web: python3 -m http.server $PORT --bind 127.0.0.1\n',
      'index.txt': 'served by python\n',
    });
    const pushedProc = await proc.push(d.remote('proc'));
    assert.equal(pushedProc.code, 0, pushedProc.stderr);
    assert.match(pushedProc.stderr, /Building proc \(Procfile\)/);
    assert.equal((await d.get('proc', '/index.txt')).body, 'served by python\n');
  });

  it('a repository with about 50 MB of history pushes', async (t: TestContext) => {
    const copy = await WorkingCopy.create(d.work, 'big', d.adminKey);
    for (let i = 0; i < 5; i++) await copy.commit({ ...nodeApp('big'), [`assets/blob-${i}.bin`]: randomBytes(10 * 1024 * 1024).toString('base64').slice(0, 10 * 1024 * 1024) }, `blob ${i}`);
    const started = performance.now();
    const pushed = await copy.push(d.remote('big'));
    assert.equal(pushed.code, 0, pushed.stderr);
    t.diagnostic(`50 MB history: pushed and deployed in ${(performance.now() - started).toFixed(0)} ms`);
    assert.equal(await answer('big'), 'big');
  });
});

describe('git push refuses', () => {
  it('an unknown key: Permission denied (publickey), nothing created', async () => {
    const stranger = await sshKey(d.work, 'stranger-key');
    const copy = await WorkingCopy.create(d.work, 'stranger', stranger);
    await copy.commit(nodeApp('s'));
    const pushed = await copy.push(d.remote('stranger-app'));
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.stderr, /Permission denied \(publickey\)/);
    assert.equal((await d.dormant('apps', '-o', 'json')).stdout.includes('stranger-app'), false);
  });

  it("a per-app key pushes to its app only, and cannot create apps", async () => {
    const appKey = await sshKey(d.work, 'team-key');
    const publicKey = (await runProgram('cat', [`${appKey}.pub`])).stdout.trim();
    await writeFile(
      join(d.work, 'team.yaml'),
      `apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: team}\nspec:\n  git:\n    authorizedKeys: ["${publicKey}"]\n`,
    );
    assert.equal((await d.dormant('apply', '-f', join(d.work, 'team.yaml'))).code, 0);
    const copy = await WorkingCopy.create(d.work, 'team', appKey);
    await copy.commit(nodeApp('team'));
    const own = await copy.push(d.remote('team'));
    assert.equal(own.code, 0, own.stderr);
    assert.equal(await answer('team'), 'team');

    const hello = await serverRef('hello');
    const other = await copy.push(d.remote('hello'));
    assert.notEqual(other.code, 0);
    assert.match(other.stderr, /error \[GITD_ACCESS_DENIED\]: key SHA256:\S+ may not push to hello: it is authorized for other apps only/);
    assert.equal(await serverRef('hello'), hello);
    const create = await copy.push(d.remote('brand-new'));
    assert.match(create.stderr, /there is no app named brand-new, and only admin keys create apps by pushing/);
  });

  it('a non-fast-forward push to the deploy branch, and deleting it', async () => {
    const copy = await WorkingCopy.create(d.work, 'history', d.adminKey);
    await copy.commit(nodeApp('h1'), 'h1');
    await copy.commit(nodeApp('h2'), 'h2');
    assert.equal((await copy.push(d.remote('history'))).code, 0);
    const before = await serverRef('history');
    await copy.git('reset', '-q', '--hard', 'HEAD~1');
    await copy.commit(nodeApp('h3'), 'rewritten');
    const forced = await copy.push(d.remote('history'), '--force', 'main');
    assert.match(forced.stderr, /! \[remote rejected\] main -> main \(non-fast-forward: the deploy branch is at [0-9a-f]{7}, which this push does not contain; .*spec\.git\.allowForcePush/);
    const deleted = await copy.push(d.remote('history'), ':main');
    assert.match(deleted.stderr, /! \[remote rejected\] main \(deleting the deploy branch is not allowed/);
    assert.equal(await serverRef('history'), before);
    assert.equal(await answer('history'), 'h2');
    // Other branches are stored, not deployed, and may be deleted.
    const feature = await copy.push(d.remote('history'), 'main:feature');
    assert.equal(feature.code, 0, feature.stderr);
    assert.doesNotMatch(feature.stderr, /Deployed/);
    assert.match(feature.stderr, /remote: -----> feature stored, not deployed: only main deploys/);
    assert.notEqual(await serverRef('history', 'feature'), '');
    assert.equal((await copy.push(d.remote('history'), ':feature')).code, 0);
    assert.equal(await serverRef('history', 'feature'), '');
  });

  it('ref names that clash with existing ones are refused; deleting one makes room in the same push', async () => {
    const copy = await WorkingCopy.create(d.work, 'refs', d.adminKey);
    await copy.commit(nodeApp('refs'));
    assert.equal((await copy.push(d.remote('refs'), 'main', 'main:topic/one')).code, 0);
    const clash = await copy.push(d.remote('refs'), 'main:topic');
    assert.match(clash.stderr, /! \[remote rejected\] main -> topic \(clashes with refs\/heads\/topic\/one/);
    const swap = await copy.push(d.remote('refs'), ':topic/one', 'main:topic');
    assert.equal(swap.code, 0, swap.stderr);
    assert.equal(await serverRef('refs', 'topic'), await serverRef('refs'));
  });

  it('pushing main and master at once deploys main and stores master', async () => {
    const copy = await WorkingCopy.create(d.work, 'both', d.adminKey);
    await copy.commit(nodeApp('both'));
    const pushed = await copy.push(d.remote('both'), 'main', 'main:master');
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /Deployed both-00001/);
    assert.match(pushed.stderr, /remote: -----> master stored, not deployed: only main deploys/);
    assert.equal(await serverRef('both', 'master'), await serverRef('both'));
  });

  it('the same pack sent again by a push that then fails does not take objects from the one that succeeded', async () => {
    await writeFile(
      join(d.work, 'slow.yaml'),
      'apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: slow}\nspec:\n  hooks: {postDeploy: ["sleep 1"]}\n',
    );
    assert.equal((await d.dormant('apply', '-f', join(d.work, 'slow.yaml'))).code, 0);
    const copy = await WorkingCopy.create(d.work, 'slow', d.adminKey);
    await copy.commit(nodeApp('s1'));
    // Both advertise the empty repository and send the same pack; the second waits for the first, then fails.
    const [first, second] = await Promise.all([copy.push(d.remote('slow')), copy.push(d.remote('slow'))]);
    assert.deepEqual([first.code, second.code].sort(), [0, 1], `${first.stderr}\n${second.stderr}`);
    const fsck = await runProgram('git', ['--git-dir', join(d.stateDir, 'repos', 'slow.git'), 'fsck', '--no-dangling']);
    assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
    await copy.commit(nodeApp('s2'));
    assert.equal((await copy.push(d.remote('slow'))).code, 0);
    assert.equal(await answer('slow'), 's2');
  });

  it('a tree with two entries of one name (a symlink and a folder) is refused before anything is written', async () => {
    const copy = await WorkingCopy.create(d.work, 'evil', d.adminKey);
    await copy.commit(nodeApp('evil'));
    const git = (args: string[], input?: string) => runProgram('git', args, { cwd: copy.dir, ...(input === undefined ? {} : { input }) });
    const blob = (await git(['hash-object', '-w', '--stdin'], 'x\n')).stdout.trim();
    const link = (await git(['hash-object', '-w', '--stdin'], join(d.work, 'escape'))).stdout.trim();
    const inner = (await git(['mktree'], `100644 blob ${blob}\tx\n`)).stdout.trim();
    // mktree refuses duplicates, so the tree is written by hand: "a" as a symlink, then "a" as a folder.
    const entry = (mode: string, name: string, oid: string) => Buffer.concat([Buffer.from(`${mode} ${name}\0`), Buffer.from(oid, 'hex')]);
    const treeFile = join(d.work, 'evil-tree');
    await writeFile(treeFile, Buffer.concat([entry('120000', 'a', link), entry('40000', 'a', inner)]));
    const tree = (await git(['hash-object', '-w', '-t', 'tree', '--literally', treeFile])).stdout.trim();
    const commit = (await runProgram('git', ['commit-tree', tree, '-p', 'HEAD', '-m', 'evil'], { cwd: copy.dir, env: { ...process.env, GIT_AUTHOR_NAME: 'e', GIT_AUTHOR_EMAIL: 'e@x', GIT_COMMITTER_NAME: 'e', GIT_COMMITTER_EMAIL: 'e@x' } })).stdout.trim();
    const pushed = await copy.push(d.remote('evil'), `${commit}:refs/heads/main`);
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.stderr, /holds two entries named "a"/);
    assert.equal((await runProgram('ls', [join(d.work, 'escape')])).code, 2, 'nothing was written outside the release');
    assert.equal(await serverRef('evil'), '');
  });

  it('two concurrent pushes to one app: one deploys, the other fails its compare-and-swap; both end consistent', async () => {
    const base = await WorkingCopy.create(d.work, 'race-a', d.adminKey);
    await base.commit(nodeApp('r0'), 'r0');
    assert.equal((await base.push(d.remote('race'))).code, 0);
    const other = await WorkingCopy.create(d.work, 'race-b', d.adminKey);
    // The same history in a second copy, by a local fetch.
    await other.git('fetch', '-q', base.dir, 'main');
    await other.git('reset', '-q', '--hard', 'FETCH_HEAD');
    const a = await base.commit(nodeApp('ra'), 'ra');
    const b = await other.commit(nodeApp('rb'), 'rb');
    const [pushedA, pushedB] = await Promise.all([base.push(d.remote('race')), other.push(d.remote('race'))]);
    const winners = [pushedA, pushedB].filter((p) => p.code === 0);
    assert.equal(winners.length, 1, `A: ${pushedA.stderr}\nB: ${pushedB.stderr}`);
    const loser = pushedA.code === 0 ? pushedB : pushedA;
    assert.match(loser.stderr, /stale info: another push moved this ref to [0-9a-f]{7} after yours started/);
    const winner = pushedA.code === 0 ? a : b;
    assert.equal(await serverRef('race'), winner);
    assert.equal(await answer('race'), pushedA.code === 0 ? 'ra' : 'rb');
  });

  it('a shell, another command, a fetch and a bad app name get a message and exit 1', async () => {
    const ssh = (command: string) => runProgram('sh', ['-c', `${sshCommand(d.adminKey)} -p ${d.sshPort} git@127.0.0.1 ${command}`]);
    const shell = await ssh('');
    assert.equal(shell.code, 1);
    assert.match(shell.stderr, /Dormant has no shell/);
    const other = await ssh('ls');
    assert.equal(other.code, 1);
    assert.match(other.stderr, /error \[GITD_BAD_COMMAND\]: Dormant does not run "ls"/);
    const fetch = await ssh(`"git-upload-pack 'hello'"`);
    assert.match(fetch.stderr, /error \[GITD_NOT_SUPPORTED\]: git-upload-pack \(fetch and clone\) is not supported yet/);
    const copy = await WorkingCopy.create(d.work, 'badname', d.adminKey);
    await copy.commit(nodeApp('x'));
    const bad = await copy.push(`ssh://git@127.0.0.1:${d.sshPort}/Bad_Name`);
    assert.match(bad.stderr, /"Bad_Name" cannot be an app name: .*use lower-case letters, digits and '-'.*; push to a remote such as ssh:\/\/git@HOST:PORT\/hello instead/);
  });

  it('garbage on the channel is refused and the repository is unchanged', async () => {
    const hello = await serverRef('hello');
    const receivePack = (input: Buffer | string) =>
      runProgram('sh', ['-c', `${sshCommand(d.adminKey)} -p ${d.sshPort} git@127.0.0.1 "git-receive-pack 'hello'"`], { input });
    const http = await receivePack('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(http.code, 128);
    assert.match(http.stderr, /fatal \[GITD_PROTOCOL\]: protocol error: expected a pkt-line length, got "GET "/);
    const next = 'f'.repeat(40);
    const command = `${hello} ${next} refs/heads/main\0report-status\n`;
    const framed = `${(command.length + 4).toString(16).padStart(4, '0')}${command}0000`;
    const badPack = await receivePack(Buffer.concat([Buffer.from(framed), Buffer.from('PACK\0\0\0\x02\0\0\0\x01'), Buffer.from([0x35]), randomBytes(200)]));
    // A 5-byte blob's header, then random bytes where its zlib stream should be.
    assert.match(badPack.stdout, /unpack (object 1 of 1 \(a blob at byte 12\) (is not valid zlib data|inflates to)|the pack ends after 0 of 1 objects)/);
    assert.match(badPack.stderr, /error \[GITD_BAD_PACK\]: object 1 of 1/);
    assert.equal(await serverRef('hello'), hello);
    const notPack = await receivePack(Buffer.concat([Buffer.from(framed), randomBytes(100)]));
    assert.match(notPack.stdout, /unpack the data after the commands is not a git pack/);
    assert.equal(await serverRef('hello'), hello);
    assert.equal(await answer('hello'), 'v1');
  });
});

describe('git push limits', () => {
  it('a pack over the size limit is rejected with a message and leaves nothing', async () => {
    const small = await startDormant(['--max-pack-mb', '1']);
    try {
      const copy = await WorkingCopy.create(small.work, 'large', small.adminKey);
      await copy.commit({ ...nodeApp('l'), 'blob.bin': randomBytes(3 * 1024 * 1024).toString('base64') });
      const pushed = await copy.push(small.remote('large'));
      assert.notEqual(pushed.code, 0);
      assert.match(pushed.stderr, /the pack is over the 1 MiB limit/);
      const refs = await runProgram('git', ['--git-dir', join(small.stateDir, 'repos', 'large.git'), 'for-each-ref']);
      assert.equal(refs.stdout, '');
    } finally {
      await small.stop();
    }
  });
});
