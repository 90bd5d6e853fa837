// `dormant trace` against a real `dormant up`: the activator records an app's requests and
// the CLI streams them as a request log that `dormant policy simulate` reads.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempStateDir } from '../cli/test-support.js';
import { freePort, spawnUp } from './git-support.js';

const bin = fileURLToPath(new URL('../bin/dormant.js', import.meta.url));
const run = promisify(execFile);


function get(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Resolves once text appears in what the child printed on stderr; rejects, with what it printed, if it exits first. */
function untilPrinted(child: ChildProcessWithoutNullStreams, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stderr.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(text)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before printing ${JSON.stringify(text)}: ${seen}`)));
  });
}

it('records the requests of an app from the running dormant up, for policy simulate', async () => {
  const stateDir = await tempStateDir();
  const dormant = (...args: string[]) => run(process.execPath, [bin, ...args, '--state-dir', stateDir]);
  await dormant('apps', 'create', 'hello');
  // Nothing is deployed: requests get 503 at once, which is enough to trace.

  const notRunning = await dormant('trace', 'hello').catch((error: { code: number; stderr: string }) => error);
  assert.equal((notRunning as { code: number }).code, 1);
  assert.match((notRunning as { stderr: string }).stderr, /error \[CLI_NOT_RUNNING\]: cannot trace hello: no dormant up is running/);

  // Ports found free may be taken by a test beside this one first: then others.
  let up: ChildProcessWithoutNullStreams | undefined;
  let httpPort = 0;
  for (let attempt = 1; up === undefined; attempt += 1) {
    const [http, metrics] = [await freePort(), await freePort()];
    const started = spawnUp(['--state-dir', stateDir, '--http-port', String(http), '--metrics-port', String(metrics), '--ssh-port', '0']);
    after(async () => {
      if (started.child.exitCode === null) {
        started.child.kill('SIGTERM');
        await once(started.child, 'exit');
      }
    });
    try {
      await started.ready;
      [up, httpPort] = [started.child, http];
    } catch (error) {
      if (attempt >= 5 || !/CLI_PORT_IN_USE/.test((error as Error).message)) throw error;
    }
  }

  const tracer = spawn(process.execPath, [bin, 'trace', 'hello', '--for', '3s', '--state-dir', stateDir]);
  let csv = '';
  tracer.stdout.on('data', (chunk: Buffer) => (csv += chunk.toString()));
  await untilPrinted(tracer, 'Recording requests to hello');
  const statuses = await Promise.all([get(httpPort, 'hello.localhost'), get(httpPort, 'hello.localhost')]);
  assert.deepEqual(statuses, [503, 503]);
  const [code] = (await once(tracer, 'exit')) as [number];
  assert.equal(code, 0);

  const [header, ...rows] = csv.trim().split('\n');
  assert.equal(header, 'seconds,duration_seconds,status');
  assert.equal(rows.length, 2, csv);
  for (const row of rows) {
    const [arrived = -1, duration = -1, status] = row.split(',').map(Number);
    assert.ok(arrived >= 0 && arrived < 3, `arrived ${arrived} s into the trace`);
    assert.ok(duration >= 0 && duration < 1, `took ${duration} s`);
    assert.equal(status, 503);
  }

  await writeFile(join(stateDir, 'hello.csv'), csv);
  const simulated = await dormant('policy', 'simulate', '--trace', join(stateDir, 'hello.csv'), '--chart', join(stateDir, 'hello.svg'));
  assert.match(simulated.stdout, /requests \(2\)/);
  assert.match(simulated.stdout, /^defaults\s+1\s+/m);
});
