// `dormant up` as a user runs it: the real bin in its own process, stopped by a signal.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { access, mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const bin = fileURLToPath(new URL('../bin/dormant.js', import.meta.url));
const run = promisify(execFile);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Resolves with everything printed so far once `text` appears on stdout. */
function waitFor(child: ChildProcessWithoutNullStreams, text: string, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no "${text}" within ${timeoutMs} ms; stdout so far: ${seen}`)), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(text)) {
        clearTimeout(timer);
        resolve(seen);
      }
    });
    child.on('exit', (code) => reject(new Error(`exited with ${code} before "${text}"; stdout: ${seen}`)));
  });
}

describe('dormant up', () => {
  it('starts, prints the remote and URL pattern, serves /metrics, refuses a second instance, and stops on SIGTERM keeping state', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'dormant-up-'));
    await run(process.execPath, [bin, 'apps', 'create', 'hello', '--state-dir', stateDir]);
    const metricsPort = await freePort();
    const child = spawn(process.execPath, [bin, 'up', '--state-dir', stateDir, '--metrics-port', String(metricsPort)]);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      const banner = await waitFor(child, 'Press Ctrl-C to stop.');
      assert.match(banner, /Dormant is up on the local runtime; state in .* \(1 app\)/);
      assert.match(banner, /git remote add dormant ssh:\/\/git@localhost:2222\/<app> && git push dormant main/);
      assert.match(banner, /apps at: +http:\/\/<app>\.localhost:8080/);
      assert.match(banner, /activator +not built yet/);

      const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      assert.equal(metrics.status, 200);
      const text = await metrics.text();
      assert.match(text, /^dormant_component_up\{component="store"\} 1$/m);
      assert.match(text, /^dormant_component_up\{component="activator"\} 0$/m);
      assert.match(text, /^dormant_process_cpu_user_seconds_total /m);

      const second = await run(process.execPath, [bin, 'up', '--state-dir', stateDir, '--metrics-port', '0']).then(
        () => assert.fail('a second dormant up on the same state folder must fail'),
        (error: { code: number; stderr: string }) => error,
      );
      assert.equal(second.code, 1);
      assert.match(second.stderr, new RegExp(`dormant up is already running on .* \\(pid ${child.pid}\\); stop it first`));

      const log = JSON.parse(stderr.split('\n').find((line) => line.includes('dormant up started')) ?? '{}');
      assert.equal(log.name, 'dormant');
      assert.equal(log.component, 'up');

      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
    await assert.rejects(access(join(stateDir, 'up.json')), 'up.json is removed on stop');
    const { stdout } = await run(process.execPath, [bin, 'apps', '-o', 'json', '--state-dir', stateDir]);
    assert.equal(JSON.parse(stdout)[0].name, 'hello');
  });

  it('an invalid port is refused before anything starts', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'dormant-up-'));
    const result = await run(process.execPath, [bin, 'up', '--state-dir', stateDir, '--metrics-port', '99999']).then(
      () => assert.fail('must fail'),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--metrics-port must be a port number from 0 to 65535, got "99999"/);
  });
});
