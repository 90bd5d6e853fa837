// Apps shaped like the ones people publish (test/fixtures/apps), pushed with real git over
// SSH as a new user would, unchanged, and served: Node starters and static sites. (Python,
// Go and Java have their own files.)
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DormantUp, fixtureApp, freePort, pushNewApp, startDormant, WorkingCopy } from './git-support.js';

let d: DormantUp;
before(async () => {
  d = await startDormant();
});
after(async () => {
  await d?.stop();
});


describe('Node starters and static sites', () => {
  it('Express with a yarn 1 lockfile and engines.node >=18: yarn 1.22.22, the newest Node that satisfies it', async () => {
    const { pushed } = await pushNewApp(d, 'express', await fixtureApp('express-yarn'));
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /Building express \(node \d+\.\d+\.\d+ \(>=18 in engines\.node\), yarn install --frozen-lockfile \(yarn 1\.22\.22 for a yarn 1 lockfile\)\)/);
    const answer = await d.get('express');
    assert.equal(answer.status, 200, answer.body);
    assert.equal(answer.body, 'Hello from Express');
    assert.match(pushed.stderr, /remote: +dependencies kept for the next build \(reused while yarn\.lock is unchanged\)/);
    assert.match(pushed.stderr, /remote: +yarn install --frozen-lockfile: done in \d+\.\d s/);
  });

  it('a second push with the lockfile unchanged reuses the dependencies the first installed; a changed lockfile installs again', async () => {
    const files = await fixtureApp('express-yarn');
    const copy = await WorkingCopy.create(d.work, 'express-again', d.adminKey);
    await copy.commit(files);
    assert.equal((await copy.push(d.remote('express-again'))).code, 0);
    await copy.commit({ 'app.js': (files['app.js'] ?? '').replace('Hello from Express', 'Hello again from Express') });
    const again = await copy.push(d.remote('express-again'));
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /-----> dependencies unchanged \(yarn\.lock\): node_modules reused from the last build \(\d+\.\d s\)/);
    assert.doesNotMatch(again.stderr, /-----> yarn install/, 'nothing installed');
    assert.equal((await d.get('express-again')).body, 'Hello again from Express');
    await copy.commit({ 'yarn.lock': `${files['yarn.lock'] ?? ''}\n` });
    const changed = await copy.push(d.remote('express-again'));
    assert.equal(changed.code, 0, changed.stderr);
    assert.match(changed.stderr, /-----> dependencies: yarn\.lock or the runtime changed since the last build, or none was kept: installing/);
    assert.match(changed.stderr, /-----> yarn install --frozen-lockfile/);
  });

  it('a Next.js app with pnpm-lock.yaml and no pin: pnpm 9 for lockfile 9.0, next build, next start on $PORT', async () => {
    const { pushed } = await pushNewApp(d, 'nextjs', await fixtureApp('nextjs-pnpm'));
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /pnpm install --frozen-lockfile \(pnpm 9\.15\.9 for lockfileVersion 9\)/);
    assert.match(pushed.stderr, /-----> pnpm run build/);
    const answer = await d.get('nextjs');
    assert.equal(answer.status, 200, answer.body);
    assert.match(answer.body, /<h1>Hello from Next\.js<\/h1>/);
  });

  it('a Vite-shaped single-page app: its build output dist/ is served, with the SPA fallback when the App asks for it', async () => {
    await writeFile(join(d.work, 'spa.yaml'), 'apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: spa}\nspec:\n  run:\n    env: {DORMANT_SPA: "1"}\n');
    assert.equal((await d.dormant('apply', '-f', join(d.work, 'spa.yaml'))).code, 0);
    const { pushed } = await pushNewApp(d, 'spa', await fixtureApp('vite-spa'));
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /Building spa \(node 26, no dependencies, npm run build, static site from dist\/, build\/, out\/\)/);
    assert.match((await d.get('spa')).body, /Hello from the SPA/);
    assert.match((await d.get('spa', '/assets/index-d41d8cd9.js')).body, /textContent/);
    assert.match((await d.get('spa', '/settings/profile')).body, /Hello from the SPA/, 'a client-side route gets index.html');
    assert.equal((await d.get('spa', '/missing.png')).status, 404, 'a missing file is still missing');
  });

  it('a site in public/ is served from there; a build that leaves no site is refused, naming where it looked', async () => {
    const { pushed } = await pushNewApp(d, 'public-site', { 'public/index.html': '<h1>public</h1>\n', 'README.md': '# my site\n' });
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.equal((await d.get('public-site')).body, '<h1>public</h1>\n');
    assert.equal((await d.get('public-site', '/README.md')).status, 404, 'only public/ is served');
    const { pushed: empty } = await pushNewApp(d, 'no-output', { 'package.json': JSON.stringify({ name: 'x', version: '1.0.0', scripts: { build: 'node -e 0' } }) });
    assert.notEqual(empty.code, 0);
    assert.match(empty.stderr, /! \[remote rejected\] main -> main \(build failed: the build script ran, but left no index\.html in dist\/, build\/, out\/, and nothing else says how to start this app/);
  });

  it('an app that ignores $PORT and listens on a port of its own is refused, naming that port, in seconds; the running release keeps serving', async () => {
    const fixed = await freePort();
    const copy = await WorkingCopy.create(d.work, 'fixed-port', d.adminKey);
    await copy.commit({ 'package.json': JSON.stringify({ name: 'fixed', version: '1.0.0', scripts: { start: 'node server.js' } }), 'server.js': "require('node:http').createServer((q, s) => s.end('on PORT')).listen(process.env.PORT);\n" });
    assert.equal((await copy.push(d.remote('fixed-port'))).code, 0);
    await copy.commit({ 'server.js': `require('node:http').createServer((q, s) => s.end('fixed')).listen(${fixed}, () => console.log('Example app listening on port ${fixed}'));\n` });
    const started = performance.now();
    const pushed = await copy.push(d.remote('fixed-port'));
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.stderr, new RegExp(`! \\[remote rejected\\] main -> main \\(deploy failed: replica fixed-port-00002-\\w+ listens on port ${fixed}, not on the port in \\$PORT \\(\\d+\\): make the app listen on the PORT environment variable`));
    assert.ok(performance.now() - started < 30_000, 'found well before the start timeout (60 s)');
    assert.equal((await d.get('fixed-port')).body, 'on PORT');
  });
});
