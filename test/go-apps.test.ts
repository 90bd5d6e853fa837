// Go modules shaped like the ones people publish (test/fixtures/apps), pushed with real
// git over SSH and served: the toolchain its go.mod asks for, fetched from the Go module
// proxy (golang.org/toolchain, checked against the checksum database; cached under
// ~/.cache/dormant, so a second run fetches nothing), `go build` in the app's sandbox over
// debian:bookworm-slim, the binary run there.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DormantUp, fixtureApp, startDormant, WorkingCopy } from './git-support.js';

let d: DormantUp;
before(async () => {
  d = await startDormant();
});
after(async () => {
  await d?.stop();
});

describe('Go apps', () => {
  it('a module with cmd/server, an internal package and a dependency: built with the newest Go 1.24, served by bin/server', async () => {
    const copy = await WorkingCopy.create(d.work, 'gohello', d.adminKey);
    await copy.commit(await fixtureApp('go-cmd-server'));
    const pushed = await copy.push(d.remote('gohello'));
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /Building gohello \(go 1\.24\.\d+ \(go 1\.24 in go\.mod\), web: bin\/server \(cmd\/server; a Procfile web: line chooses another\)\)/);
    assert.match(pushed.stderr, /-----> go build -trimpath -o bin\/ \.\/cmd\/server/);
    const answer = await d.get('gohello');
    assert.equal(answer.status, 200, answer.body);
    assert.match(answer.body, /^Hello from Go \(go1\.24\.\d+, instance 36 chars\)\n$/);
    const revisions = JSON.parse((await d.dormant('revisions', 'gohello', '--output', 'json')).stdout) as { spec?: { runtime?: { go?: string }; stack?: string } }[];
    assert.match(revisions.at(-1)?.spec?.runtime?.go ?? '', /^1\.24\.\d+$/);
    assert.equal(revisions.at(-1)?.spec?.stack, 'docker.io/library/debian:bookworm-slim');
  });

  it('a compile error rejects the push with the step named; the running release keeps serving', async () => {
    const copy = await WorkingCopy.create(d.work, 'gobroken', d.adminKey);
    await copy.commit(await fixtureApp('go-cmd-server'));
    assert.equal((await copy.push(d.remote('gobroken'))).code, 0);
    await copy.commit({ 'internal/greeting/greeting.go': 'package greeting\n\nfunc Hello(who string) string { return 42 }\n' });
    const pushed = await copy.push(d.remote('gobroken'));
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.stderr, /cannot use 42 \(untyped int constant\) as string value in return statement/);
    assert.match(pushed.stderr, /! \[remote rejected\] main -> main \(build failed: go build -trimpath -o bin\/ \.\/cmd\/server exited 1\)/);
    assert.match((await d.get('gobroken')).body, /^Hello from Go/);
  });
});
