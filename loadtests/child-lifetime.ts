/**
 * What binding a child to Dormant (lifetime/) adds to starting it: spawn to exit of a
 * trivial command, bare, with setpriv's parent-death signal only (the replicas' wrapper
 * before), and as a bound tree (PID namespace; as non-root, in a user namespace too).
 * Wall time: interleaved runs, medians (noisy on a loaded machine); CPU time of the
 * children (user + system, /proc/self/stat, 10 ms ticks), per start, over blocks of runs.
 * Not part of npm test.
 *
 * Usage: node --import tsx loadtests/child-lifetime.ts [RUNS] [-- COMMAND...]   (20, node -e 0)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { bindToDormant } from '../lifetime/index.js';

const separator = process.argv.indexOf('--');
const runs = Number(process.argv[2] && process.argv[2] !== '--' ? process.argv[2] : 20);
const command = separator >= 0 ? process.argv.slice(separator + 1) : [process.execPath, '-e', '0'];

const variants: Record<string, string[]> = {
  bare: command,
  'setpriv (before)': ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--', ...command],
  'tree (now)': bindToDormant(command, 'tree'),
};

function once(argv: readonly string[]): Promise<number> {
  const [program = '', ...args] = argv;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { detached: true, stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`${argv.join(' ')} exited ${code}`))));
  });
}

/** CPU ms used by waited-for children so far (cutime + cstime). */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
for (const argv of Object.values(variants)) await once(argv); // warm the page cache
for (let i = 0; i < runs; i++) {
  for (const [name, argv] of Object.entries(variants)) times[name]?.push(await once(argv));
}
const cpu: Record<string, number> = {};
for (const [name, argv] of Object.entries(variants)) {
  const before = childrenCpuMs();
  for (let i = 0; i < runs * 5; i++) await once(argv);
  cpu[name] = (childrenCpuMs() - before) / (runs * 5);
}
const bare = median(times.bare ?? []);
console.log(`${runs} runs of ${command.join(' ')} (uid ${process.geteuid?.()}): wall time spawn to exit (median), CPU per start (${runs * 5} runs):`);
for (const [name, values] of Object.entries(times)) {
  const m = median(values);
  console.log(`  ${name.padEnd(18)} ${m.toFixed(2)} ms wall (+${(m - bare).toFixed(2)} over bare)   ${(cpu[name] ?? 0).toFixed(2)} ms CPU (+${((cpu[name] ?? 0) - (cpu.bare ?? 0)).toFixed(2)})`);
}
