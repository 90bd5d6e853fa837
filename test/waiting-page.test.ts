// The waiting page (issue 21), seen in a real browser: headless Chromium (Debian's, driven
// by playwright-core) opens an app at zero whose App asks for it, gets a page saying the
// app is starting, and that page turns into the app's once a replica answers. An API client
// of the same kind of app is held and answered by the app, as always.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { type DormantUp, pushNewApp, startDormant } from './git-support.js';

const chromiumPath = '/usr/bin/chromium';
let d: DormantUp;
let browser: Browser | undefined;

/** A Node app that takes a second to listen (a slow cold start), then answers with its name. */
const slowApp = (name: string): Record<string, string> => ({
  'package.json': JSON.stringify({ name, version: '1.0.0', scripts: { start: 'node server.js' } }),
  'server.js': `setTimeout(() => require('node:http').createServer((q, s) => { s.setHeader('content-type', 'text/html'); s.end('<h1>hello from ${name}</h1>'); }).listen(process.env.PORT), 1500);\n`,
});

/** An App that asks for the waiting page, applied before its first push. */
async function appWithWaitingPage(name: string): Promise<void> {
  const file = join(d.work, `${name}.yaml`);
  await writeFile(file, `apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata:\n  name: ${name}\nspec:\n  coldStart:\n    waitingPage: true\n`);
  const applied = await d.dormant('apply', '-f', file);
  assert.equal(applied.code, 0, applied.stderr);
  const { pushed } = await pushNewApp(d, name, slowApp(name));
  assert.equal(pushed.code, 0, pushed.stderr);
}

/** A GET of app's root with this Accept (fetch cannot set Host). */
function ask(app: string, accept: string): Promise<{ status: number; body: string; waitingPage: string | undefined }> {
  return new Promise((resolve, reject) => {
    const call = request({ host: '127.0.0.1', port: d.httpPort, path: '/', headers: { host: `${app}.localhost:${d.httpPort}`, accept } }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body, waitingPage: response.headers['x-dormant-waiting-page'] as string | undefined }));
    });
    call.on('error', reject);
    call.end();
  });
}

before(async () => {
  d = await startDormant();
});
after(async () => {
  await browser?.close();
  await d?.stop();
});

describe('the waiting page', { skip: existsSync(chromiumPath) ? false : `no ${chromiumPath} (hack/test-deps.sh installs it)` }, () => {
  it('a browser that wakes the app sees that it is starting, then the app’s page, without reloading by hand', async () => {
    await appWithWaitingPage('paged');
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'], headless: true });
    const page = await browser.newPage();
    const response = await page.goto(`http://paged.localhost:${d.httpPort}/`);
    assert.equal(response?.status(), 503);
    assert.equal(response?.headers()['x-dormant-waiting-page'], '1');
    assert.match(await page.textContent('main') ?? '', /paged is starting\./);
    // Run in the page (a string: this file is compiled without the DOM's types).
    await page.waitForFunction("document.querySelector('h1')?.textContent === 'hello from paged'", undefined, { timeout: 30_000 });
    assert.equal(await page.title(), '', 'the app’s own page, not the waiting page');
  });

  it('an API client of such an app is held and answered by the app; so is a browser once it is awake', async () => {
    await appWithWaitingPage('paged-api');
    const held = await ask('paged-api', 'application/json');
    assert.equal(held.status, 200);
    assert.equal(held.body, '<h1>hello from paged-api</h1>');
    const awake = await ask('paged-api', 'text/html');
    assert.equal(awake.status, 200);
    assert.equal(awake.waitingPage, undefined);
  });

  it('an app that does not ask for it holds a browser as any client', async () => {
    const { pushed } = await pushNewApp(d, 'plain', slowApp('plain'));
    assert.equal(pushed.code, 0, pushed.stderr);
    const answer = await ask('plain', 'text/html,application/xhtml+xml');
    assert.equal(answer.status, 200);
    assert.equal(answer.body, '<h1>hello from plain</h1>');
  });
});
