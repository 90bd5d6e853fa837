/**
 * What binding a child to Dormant (lifetime/) adds to starting it: spawn to the command's
 * first output (what a cold start waits for) and to its exit, bare, with setpriv's
 * parent-death signal only (the replicas' wrapper before), and as a bound tree (PID and
 * mount namespaces; as non-root, in a user namespace too). Wall times: interleaved runs,
 * medians (noisy on a loaded machine). CPU: user + system time of the children per start
 * (/proc/self/stat, 10 ms ticks) over blocks of runs. Not part of npm test.
 *
 * Usage: node --import tsx loadtests/child-lifetime.ts [RUNS] [-- COMMAND...]
 * (20 runs of `node -e "console.log(1)"` by default; the command must print something)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { bindToDormant } from '../lifetime/index.js';

const separator = process.argv.indexOf('--');
const runs = Number(process.argv[2] && process.argv[2] !== '--' ? process.argv[2] : 20);
const command = separator >= 0 ? process.argv.slice(separator + 1) : [process.execPath, '-e', 'console.log(1)'];

const variants: Record<string, string[]> = {
  bare: command,
  'setpriv (before)': ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--', ...command],
  'tree (now)': bindToDormant(command, 'tree'),
};

/** Milliseconds from spawn to the first output and to the exit. */
function once(argv: readonly string[]): Promise<{ outputMs: number; exitMs: number }> {
  const [program = '', ...args] = argv;
  const started = performance.now();
  let outputMs = Number.NaN;
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.once('data', () => {
      outputMs = performance.now() - started;
    });
    child.stdout.resume();
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve({ outputMs, exitMs: performance.now() - started }) : reject(new Error(`${argv.join(' ')} exited ${code}`))));
  });
}

/** CPU ms used by waited-for children so far (cutime + cstime). */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
const output: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
const exit: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
for (const argv of Object.values(variants)) await once(argv); // warm the page cache
for (let i = 0; i < runs; i++) {
  for (const [name, argv] of Object.entries(variants)) {
    const run = await once(argv);
    output[name]?.push(run.outputMs);
    exit[name]?.push(run.exitMs);
  }
}
const cpu: Record<string, number> = {};
for (const [name, argv] of Object.entries(variants)) {
  const before = childrenCpuMs();
  for (let i = 0; i < runs * 5; i++) await once(argv);
  cpu[name] = (childrenCpuMs() - before) / (runs * 5);
}
const base = { output: median(output.bare ?? []), exit: median(exit.bare ?? []), cpu: cpu.bare ?? 0 };
const plus = (value: number, over: number) => `${value.toFixed(2)} (+${(value - over).toFixed(2)})`;
console.log(`${command.join(' ')} as uid ${process.geteuid?.()}: medians of ${runs} runs, CPU over ${runs * 5}; ms (+ over bare)`);
for (const name of Object.keys(variants)) {
  const line = [`to output ${plus(median(output[name] ?? []), base.output)}`, `to exit ${plus(median(exit[name] ?? []), base.exit)}`, `CPU ${plus(cpu[name] ?? 0, base.cpu)}`];
  console.log(`  ${name.padEnd(17)} ${line.join('   ')}`);
}
