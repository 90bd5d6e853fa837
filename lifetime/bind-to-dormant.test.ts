// Children bound to Dormant, for real: a stand-in for Dormant starts them and is killed
// with SIGKILL; every process they started must go too.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bindToDormant, treeBindingProblem } from './index.js';
import { killWithEnv, processesWithEnv, untilNoneWithEnv } from './test-support.js';

const parentScript = fileURLToPath(new URL('./test-fixtures/bound-parent.ts', import.meta.url));
const markers: string[] = [];
after(() => {
  for (const marker of markers) killWithEnv('BOUND_TEST', marker);
});

/** A stand-in for Dormant running command bound with scope; resolves once the processes carrying the marker are up. */
async function startParent(scope: string, command: string[], expected: number) {
  const marker = randomBytes(6).toString('hex');
  markers.push(marker);
  const parent = spawn(process.execPath, ['--import', 'tsx', parentScript, scope, ...command], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, BOUND_TEST: marker } });
  await once(parent.stdout, 'data');
  const deadline = performance.now() + 10_000;
  // The parent itself carries the marker too. Polled: nothing tells of a process that is not our child starting, but /proc.
  while (processesWithEnv('BOUND_TEST', marker).length < expected + 1) {
    assert.ok(performance.now() < deadline, `the child did not start its processes: ${processesWithEnv('BOUND_TEST', marker).length - 1} of ${expected}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { parent, marker };
}

/** Runs a bound command to its end; resolves with its exit. */
async function runBound(command: string[], signalAfterMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const [program = '', ...args] = bindToDormant(command, 'tree');
  const started = performance.now();
  const child = spawn(program, args, { detached: true, stdio: 'ignore' });
  if (signalAfterMs !== undefined) setTimeout(() => process.kill(-(child.pid ?? 0), 'SIGTERM'), signalAfterMs);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return { code, signal, ms: performance.now() - started };
}

describe('bindToDormant', () => {
  it('binds whole trees on this machine', () => {
    assert.equal(treeBindingProblem(), undefined);
  });

  it("SIGKILL of Dormant kills a tree child's children too, one that left for its own session included", async () => {
    // A child, a grandchild in its process group, and one that moved to its own session.
    const { parent, marker } = await startParent('tree', ['/bin/sh', '-c', 'sleep 300 & setsid sleep 301 & wait'], 4);
    parent.kill('SIGKILL');
    await untilNoneWithEnv('BOUND_TEST', marker, 5000);
  });

  it("SIGKILL of Dormant kills a process child, but not what it started (podman's conmon is reaped apart)", async () => {
    const { parent, marker } = await startParent('process', ['/bin/sh', '-c', 'setsid sleep 302 & wait'], 2);
    parent.kill('SIGKILL');
    // Polled: nothing tells of a process that is not our child dying, but /proc.
    const deadline = performance.now() + 5000;
    while (processesWithEnv('BOUND_TEST', marker).length > 1 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(processesWithEnv('BOUND_TEST', marker).length, 1, 'the shell died; the sleep it started in its own session lives on');
    killWithEnv('BOUND_TEST', marker);
  });

  it('keeps the exit code of the command', async () => {
    assert.deepEqual((await runBound(['/bin/sh', '-c', 'exit 7'])).code, 7);
    assert.deepEqual((await runBound(['true'])).code, 0);
  });

  it("the command's own pid names it in /proc (the namespace's /proc)", async () => {
    // Libraries read /proc/<process.pid>/stat for their own usage; the machine's /proc would show another process there.
    const check = "const own = require('node:fs').readFileSync('/proc/' + process.pid + '/stat', 'utf8'); process.exit(own.startsWith(process.pid + ' (node) ') ? 0 : 1)";
    assert.equal((await runBound([process.execPath, '-e', check])).code, 0);
  });

  it('a SIGTERM for the process group reaches a command that has no handler for it', async () => {
    // As the first process of its namespace, the app would ignore it and wait for the SIGKILL.
    const exit = await runBound([process.execPath, '-e', 'setInterval(() => {}, 1000)'], 300);
    assert.equal(exit.code, 128 + 15);
  });
});
