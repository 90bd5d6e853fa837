// `dormant run` through the real CLI (issue 21): a one-off process in the serving release,
// with its config and in its sandbox, this terminal's stdin, stdout and stderr, and its
// exit code; a tenant's command cannot read Dormant's state.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DormantUp, pushNewApp, runProgram, runWithResize, startDormant } from './git-support.js';

let d: DormantUp;
const bin = new URL('../bin/dormant.js', import.meta.url).pathname;
const dormantRun = (input: string | undefined, ...args: string[]) => runProgram(process.execPath, [bin, 'run', '--state-dir', d.stateDir, ...args], input === undefined ? {} : { input });

before(async () => {
  d = await startDormant([], { metrics: true });
  const { pushed } = await pushNewApp(d, 'tasks', {
    'package.json': JSON.stringify({ name: 'tasks', version: '1.0.0', scripts: { start: 'node server.js' } }),
    'server.js': "require('node:http').createServer((q, s) => s.end('ok')).listen(process.env.PORT);\n",
    'migrate.js': "let input = '';\nprocess.stdin.on('data', (c) => (input += c));\nprocess.stdin.on('end', () => { console.log('migrated ' + input.trim() + ' with ' + process.env.DATABASE_URL); console.error('a warning'); process.exit(3); });\n",
  });
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.equal((await d.dormant('config', 'set', 'tasks', 'DATABASE_URL=postgres://db/tasks')).code, 0);
});
after(async () => {
  await d?.stop();
});

describe('dormant run', () => {
  it('runs a command in the release with its config: stdin in, stdout and stderr apart, its exit code out', async () => {
    const result = await dormantRun('users\n', 'tasks', '--', 'node', 'migrate.js');
    assert.equal(result.stdout, 'migrated users with postgres://db/tasks\n');
    assert.equal(result.stderr, 'a warning\n');
    assert.equal(result.code, 3);
  });

  it('one word is a shell line, run where the replicas run (the release at /app, node_modules/.bin on PATH), as the app’s user', async () => {
    const result = await dormantRun(undefined, 'tasks', '--', 'echo "$PWD $DORMANT_APP $NODE_ENV"; id -u; test -f migrate.js && echo found');
    assert.equal(result.code, 0, result.stderr);
    const [where, uid, found] = result.stdout.trim().split('\n');
    assert.equal(where, '/app tasks production');
    assert.notEqual(uid, '0');
    assert.equal(found, 'found');
  });

  it('a tenant’s command cannot read Dormant’s state or keys, and what it changes in the release is thrown away', async () => {
    const result = await dormantRun(undefined, 'tasks', '--', `cat ${d.stateDir}/admin-token; cat ${d.stateDir}/ssh_host_ed25519_key; ls ${d.stateDir}; echo changed > server.js; echo done`);
    assert.equal(result.stdout.trim().split('\n').at(-1), 'done');
    assert.doesNotMatch(result.stdout, /PRIVATE KEY|[0-9a-f]{32}/);
    assert.equal((await d.get('tasks')).body, 'ok');
    const again = await dormantRun(undefined, 'tasks', '--', 'head -c 20 server.js');
    assert.equal(again.stdout, "require('node:http')");
  });

  it('a command that floods its output to a CLI that does not read is held back: dormant up’s memory stays flat, and the process goes with the connection', async () => {
    const rssMiB = async () => Number(/^VmRSS:\s+(\d+) kB/m.exec(await readFile(`/proc/${d.pid}/status`, 'utf8'))?.[1]) / 1024;
    const before = await rssMiB();
    const token = (await readFile(`${d.stateDir}/admin-token`, 'utf8')).trim();
    const command = Buffer.from(JSON.stringify(['cat /dev/zero'])).toString('base64');
    const socket = connect(d.metricsPort, '127.0.0.1');
    socket.write(`POST /apps/tasks/run HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\nconnection: Upgrade\r\nupgrade: dormant-run\r\nx-dormant-command: ${command}\r\n\r\n`);
    // Read the answer's first bytes, then nothing more: the CLI of a paused terminal.
    const first = await new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1'))));
    assert.match(first, /^HTTP\/1\.1 101 Switching Protocols/);
    socket.pause();
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const during = await rssMiB();
    assert.ok(during - before < 100, `dormant up grew from ${before.toFixed(0)} to ${during.toFixed(0)} MiB while the command wrote to a CLI that did not read`);
    socket.destroy();
    assert.equal((await d.get('tasks')).body, 'ok');
    // The process went with the connection: its run folder (and sandbox) are removed once it has exited.
    const runs = join(d.stateDir, 'runs');
    let left = (await readdir(runs).catch(() => [])).filter((name) => name.includes('-run-'));
    for (let tries = 0; left.length > 0 && tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      left = (await readdir(runs).catch(() => [])).filter((name) => name.includes('-run-'));
    }
    assert.deepEqual(left, []);
  });

  it('from a terminal, the process gets a terminal of its own at its size; -T (or no terminal) gives it pipes', async () => {
    // The CLI on a pseudo-terminal of util-linux's script, as in a user's terminal; the size script gives it is 0x0, so the CLI says 80x24.
    const inTerminal = (...flags: string[]) =>
      runProgram('script', ['-qfec', `${process.execPath} ${bin} run --state-dir ${d.stateDir} tasks ${flags.join(' ')} -- 'test -t 0 && test -t 1 && echo on-a-terminal; stty size; exit 4'`, '/dev/null'], { input: '' });
    const terminal = await inTerminal();
    assert.equal(terminal.code, 4, terminal.stdout + terminal.stderr);
    // Each terminal on the way (the process's, then the CLI's) ends lines with CR LF.
    assert.match(terminal.stdout, /on-a-terminal\r*\n24 80\r*\n/);
    const pipes = await inTerminal('-T');
    assert.equal(pipes.code, 4, pipes.stdout + pipes.stderr);
    assert.doesNotMatch(pipes.stdout, /on-a-terminal|24 80/);
    // Without a terminal (this test's pipes), no terminal either, unless -t asks for one.
    assert.doesNotMatch((await dormantRun(undefined, 'tasks', '--', 'test -t 1 && echo on-a-terminal; true')).stdout, /on-a-terminal/);
    const asked = await dormantRun(undefined, 'tasks', '-t', '--', 'test -t 1 && echo on-a-terminal');
    assert.match(asked.stdout, /on-a-terminal/, asked.stderr);
  });

  it("from a terminal, the process's terminal follows the CLI's when it is resized (SIGWINCH to the process)", async () => {
    const resized = await runWithResize({ metricsPort: d.metricsPort, stateDir: d.stateDir, app: 'tasks', command: "trap 'echo winched' WINCH; stty size; sleep 3; stty size", size: '80x24', resizeTo: '132x40', resizeAfterMs: 500 });
    assert.equal(resized.follows, true, 'dormant up says it follows resizes');
    assert.equal(resized.code, 0);
    assert.match(resized.stdout, /^24 80\r?\nwinched\r?\n40 132\r?\n$/, JSON.stringify(resized.stdout));
  });

  it('a resize frame that is not COLSxROWS (shell words, a huge payload) is ignored: the size stays, the run ends as it should, dormant up stays up', async () => {
    for (const resizeTo of ['$(touch /tmp/x) 3', '0x0', '99999x99999', 'x'.repeat(1024 * 1024)]) {
      const kept = await runWithResize({ metricsPort: d.metricsPort, stateDir: d.stateDir, app: 'tasks', command: 'stty size; sleep 1; stty size', size: '80x24', resizeTo, resizeAfterMs: 100 });
      assert.equal(kept.code, 0, resizeTo.slice(0, 40));
      assert.match(kept.stdout, /^24 80\r?\n24 80\r?\n$/, `${resizeTo.slice(0, 40)}: ${JSON.stringify(kept.stdout)}`);
    }
    // On pipes (no terminal) dormant up follows no size, and says so.
    const piped = await runWithResize({ metricsPort: d.metricsPort, stateDir: d.stateDir, app: 'tasks', command: 'echo piped', size: 'none', resizeTo: '100x30', resizeAfterMs: 0 });
    assert.deepEqual([piped.follows, piped.code, piped.stdout], [false, 0, 'piped\n']);
    assert.equal((await d.get('tasks')).status, 200);
  });

  it('refuses an app with nothing deployed, an unknown app, and a command without the admin token', async () => {
    assert.equal((await d.dormant('apps', 'create', 'empty')).code, 0);
    const empty = await dormantRun(undefined, 'empty', '--', 'true');
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /error \[CLI_RUN_FAILED\]: cannot run the command in empty: empty has no release serving, so there is nothing to run a command in/);
    const unknown = await dormantRun(undefined, 'nope', '--', 'true');
    assert.match(unknown.stderr, /App "nope" does not exist/);
    const anonymous = await new Promise<string>((resolve) => {
      import('node:net').then(({ connect }) => {
        const socket = connect(d.metricsPort, '127.0.0.1', () => socket.write('POST /apps/tasks/run HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: dormant-run\r\nx-dormant-command: WyJpZCJd\r\n\r\n'));
        let answer = '';
        socket.on('data', (chunk) => (answer += chunk.toString()));
        socket.on('close', () => resolve(answer));
      });
    });
    assert.match(anonymous, /^HTTP\/1\.1 401 Unauthorized/);
  });
});
