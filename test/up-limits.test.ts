// Limits of `dormant up` set by flags take effect: the postDeploy hook timeout, the time a
// client has to send a request's head, and the size of that head. Real `dormant up`, real
// git over OpenSSH, raw sockets for the request heads.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DormantUp, deployBystander, nodeApp, startDormant, WorkingCopy } from './git-support.js';

let d: DormantUp;
before(async () => {
  d = await startDormant(['--hook-timeout', '2s', '--headers-timeout', '1s', '--max-header-kb', '2']);
  await deployBystander(d, 'steady');
});
after(async () => {
  await d?.stop();
});

/** Writes `head` on a raw connection to the activator and resolves with everything it answers until it closes. */
function rawExchange(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(head));
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    // A bound, in case nothing answers: the test then fails on what it got.
    setTimeout(() => socket.destroy(), 20_000).unref();
  });
}

describe('dormant up limits set by flags', () => {
  it('--hook-timeout stops a postDeploy hook that runs longer, rejects the push, and the previous revision keeps serving', async () => {
    await writeFile(join(d.work, 'slow.yaml'), 'apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: slowhook}\nspec:\n  hooks: {postDeploy: ["sleep 60"]}\n');
    const copy = await WorkingCopy.create(d.work, 'slowhook', d.adminKey);
    await copy.commit(nodeApp('h1'));
    // The first deploy has no hook yet: apply it only after.
    const first = await copy.push(d.remote('slowhook'));
    assert.equal(first.code, 0, first.stderr);
    assert.equal((await d.dormant('apply', '-f', join(d.work, 'slow.yaml'))).code, 0);
    await copy.commit(nodeApp('h2'));
    const slow = await copy.push(d.remote('slowhook'));
    assert.notEqual(slow.code, 0);
    assert.match(slow.stderr, /! \[remote rejected\] main -> main \(postDeploy hook failed: "sleep 60" took longer than 2\.0 s and was stopped\)/);
    assert.equal((await d.get('slowhook')).body.trim(), 'h1');
  });

  it('--headers-timeout answers 408 to a request head that does not finish in time; other requests are served', async () => {
    const answer = await rawExchange(d.httpPort, 'GET / HTTP/1.1\r\nHost: steady.localhost\r\nX-Slow: ');
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /ACTIVATOR_HEADERS_TIMEOUT/);
    assert.equal((await d.get('steady')).body.trim(), 'steady');
  });

  it('--max-header-kb answers 431 to a larger request head; a smaller one is served', async () => {
    const large = await rawExchange(d.httpPort, `GET / HTTP/1.1\r\nHost: steady.localhost\r\nCookie: ${'c'.repeat(3 * 1024)}\r\nConnection: close\r\n\r\n`);
    assert.match(large, /^HTTP\/1\.1 431 /);
    const small = await rawExchange(d.httpPort, `GET / HTTP/1.1\r\nHost: steady.localhost\r\nCookie: ${'c'.repeat(1024)}\r\nConnection: close\r\n\r\n`);
    assert.match(small, /^HTTP\/1\.1 200 /);
  });
});
