// Many apps asleep (issue 18): what `dormant up` costs doing nothing with N apps, and how
// push time grows with N. A measurement tool, not a test; it starts the `dormant up` of
// another checkout, so old and new code are measured by the same script.
//
//   node --import tsx loadtests/many-apps.ts --dormant DIR [--apps 1000] [--mode pushed|applied]
//        [--idle-s 60] [--settle-s 70] [--strace-s 20] [--asleep-timeout-s 300] [--keep]
//        [--push-times FILE.json] (every push's seconds, null for a failed one)
//        [--up-node-arg ARG]...   (node flags for the up process, e.g. --up-node-arg=--cpu-prof --up-node-arg=--cpu-prof-dir=/tmp/p)
//
// pushed:  N small Node apps (no dependencies) pushed one after another with real git over
//          ssh; each push's time is recorded. Then, once every replica has scaled to zero:
// applied: N App manifests in one `dormant apply -f` while up runs; none is deployed. Then:
// both:    --settle-s of quiet (70 s by default: the autoscaler's 60 s stable window, in which
//          it rewrites a new app's status each tick, is over for the apps pushed last), then over --idle-s: CPU of the up process and its children
//          (utime+stime from /proc, % of one core), RSS, store writes (growth of the store's
//          resource-version counter), then over --strace-s: App/Revision file opens and
//          writes per second counted with strace (a separate window: strace slows the process).
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { countStoreSyscalls, cpuTicksOf, formatSummary, rssMibOf, summarizePushes } from './many-apps-figures.js';

const usage =
  'node --import tsx loadtests/many-apps.ts --dormant DIR [--apps 1000] [--mode pushed|applied] [--idle-s 60] [--settle-s 70] [--strace-s 20] [--asleep-timeout-s 300] [--keep] [--push-times FILE.json] [--up-node-arg --cpu-prof ...]';

const { values } = parseArgs({
  options: {
    dormant: { type: 'string' },
    apps: { type: 'string', default: '1000' },
    mode: { type: 'string', default: 'pushed' },
    'idle-s': { type: 'string', default: '60' },
    'settle-s': { type: 'string', default: '70' },
    'strace-s': { type: 'string', default: '20' },
    'asleep-timeout-s': { type: 'string', default: '300' },
    keep: { type: 'boolean', default: false },
    'up-node-arg': { type: 'string', multiple: true, default: [] },
    'push-times': { type: 'string' },
  },
});
const wholeNumber = (flag: string, text: string | undefined): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    process.stderr.write(`--${flag} must be a whole number, not ${text}\n${usage}\n`);
    process.exit(2);
  }
  return value;
};
if (values.dormant === undefined || !existsSync(join(values.dormant, 'bin', 'dormant.js'))) {
  process.stderr.write(`--dormant DIR must be a checkout of Dormant (with bin/dormant.js and its node_modules)\n${usage}\n`);
  process.exit(2);
}
if (values.mode !== 'pushed' && values.mode !== 'applied') {
  process.stderr.write(`--mode is pushed or applied, not ${values.mode}\n${usage}\n`);
  process.exit(2);
}
const dormantDir = resolve(values.dormant);
const bin = join(dormantDir, 'bin', 'dormant.js');
const mode = values.mode;
const apps = wholeNumber('apps', values.apps);
const idleS = wholeNumber('idle-s', values['idle-s']);
const settleS = wholeNumber('settle-s', values['settle-s']);
const straceS = wholeNumber('strace-s', values['strace-s']);
const asleepTimeoutS = wholeNumber('asleep-timeout-s', values['asleep-timeout-s']);
const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const log = (line: string) => process.stderr.write(`[many-apps ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const appName = (i: number) => `app-${String(i).padStart(5, '0')}`;

function run(program: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env, cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(program, args, { env, cwd, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
    server.on('error', fail);
  });
}

/** The pid and every live descendant, through /proc/PID/task/TID/children. */
function processTree(pid: number): number[] {
  const all: number[] = [];
  const queue = [pid];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    all.push(next);
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${next}/task`);
    } catch {
      continue;
    }
    for (const task of tasks) {
      try {
        for (const child of readFileSync(`/proc/${next}/task/${task}/children`, 'utf8').split(' ')) if (child.trim()) queue.push(Number(child));
      } catch {
        // The task ended meanwhile.
      }
    }
  }
  return all;
}

/** CPU seconds of the up process (with the children it reaped) and of its live descendants. */
function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const member of processTree(pid)) {
    try {
      ticks += cpuTicksOf(readFileSync(`/proc/${member}/stat`, 'utf8'), member === pid);
    } catch {
      // Gone since the listing.
    }
  }
  return ticks / clockTicks;
}

const rssMib = (pid: number) => rssMibOf(readFileSync(`/proc/${pid}/status`, 'utf8'));
const counter = async (stateDir: string) => Number((await readFile(join(stateDir, 'objects', 'resource-version'), 'utf8').catch(() => '0')).trim()) || 0;
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'dormant-many-apps-'));
  const stateDir = join(work, 'state');
  const key = join(work, 'admin');
  let up: ChildProcess | undefined;
  const rows: [string, string][] = [
    ['dormant', `${dormantDir} (${(await run('git', ['-C', dormantDir, 'rev-parse', '--short', 'HEAD'])).stdout.trim()}${(await run('git', ['-C', dormantDir, 'status', '--porcelain', '--untracked-files=no'])).stdout.trim() ? ', with uncommitted changes' : ''})`],
    ['mode, apps', `${mode}, ${apps}`],
    ['load average at start', load()],
  ];
  try {
    const dormant = (...args: string[]) => run(process.execPath, [bin, ...args, '--state-dir', stateDir]);
    const keygen = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'many-apps', '-f', key]);
    if (keygen.code !== 0) throw new Error(`ssh-keygen failed: ${keygen.stderr}`);
    const added = await dormant('keys', 'add', `${key}.pub`);
    if (added.code !== 0) throw new Error(`dormant keys add failed: ${added.stderr}`);
    const [httpPort, sshPort] = [await freePort(), await freePort()];
    const upLog = join(work, 'up.log');
    const child = spawn(process.execPath, [...(values['up-node-arg'] ?? []), bin, 'up', '--state-dir', stateDir, '--http-port', String(httpPort), '--ssh-port', String(sshPort), '--metrics-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    up = child;
    let stderrTail = '';
    const logLines: Buffer[] = [];
    child.stderr?.on('data', (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString()).slice(-4000);
      logLines.push(chunk);
    });
    await new Promise<void>((ready, fail) => {
      let stdout = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('Press Ctrl-C')) ready();
      });
      child.once('exit', (code) => fail(new Error(`dormant up exited ${code}: ${stderrTail}`)));
    });
    const pid = child.pid ?? 0;
    // Interrupted: stop this up (by its pid) before leaving.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        child.kill('SIGTERM');
        process.exit(130);
      });
    }
    log(`dormant up ${pid} on http ${httpPort}, ssh ${sshPort}, state ${stateDir}`);

    if (mode === 'pushed') {
      const copy = join(work, 'app');
      await mkdir(copy);
      const gitEnv = {
        ...process.env,
        HOME: copy,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_AUTHOR_NAME: 'many-apps',
        GIT_AUTHOR_EMAIL: 'many-apps@dormant.invalid',
        GIT_COMMITTER_NAME: 'many-apps',
        GIT_COMMITTER_EMAIL: 'many-apps@dormant.invalid',
        GIT_SSH_COMMAND: `ssh -i ${key} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes`,
      };
      const git = (...args: string[]) => run('git', args, gitEnv, copy);
      await writeFile(join(copy, 'package.json'), JSON.stringify({ name: 'hello', version: '1.0.0', scripts: { start: 'node server.js' } }));
      await writeFile(join(copy, 'server.js'), "require('node:http').createServer((q, s) => s.end('hello\\n')).listen(process.env.PORT);\n");
      for (const args of [['init', '-q', '-b', 'main'], ['add', '-A'], ['commit', '-q', '-m', 'hello']]) {
        const done = await git(...args);
        if (done.code !== 0) throw new Error(`git ${args[0]} failed: ${done.stderr}`);
      }
      // One commit pushed to N new apps: each push is a whole new repository to Dormant.
      const seconds: (number | undefined)[] = [];
      let failedInARow = 0;
      for (let i = 1; i <= apps; i++) {
        const started = performance.now();
        const pushed = await git('push', '-q', `ssh://git@127.0.0.1:${sshPort}/${appName(i)}`, 'main');
        const took = (performance.now() - started) / 1000;
        seconds.push(pushed.code === 0 ? took : undefined);
        if (pushed.code !== 0) {
          log(`push ${i} failed after ${took.toFixed(2)} s: ${pushed.stderr.trim().split('\n').slice(-3).join(' | ')}`);
          if (++failedInARow >= 5) throw new Error('5 pushes failed in a row: stopping');
        } else {
          failedInARow = 0;
        }
        if (i % 50 === 0 || i === apps) log(`pushed ${i}/${apps}: this one ${took.toFixed(2)} s, load ${load()}`);
      }
      const summary = summarizePushes(seconds);
      for (const mark of summary.at) rows.push([`push time of app ${mark.index}`, `${mark.seconds.toFixed(2)} s`]);
      rows.push([`median push, apps 1-${summary.firstBlock.size}`, `${summary.firstBlock.median.toFixed(2)} s`]);
      rows.push([`median push, last ${summary.lastBlock.size} apps`, `${summary.lastBlock.median.toFixed(2)} s`]);
      if (values['push-times']) await writeFile(values['push-times'], `${JSON.stringify(seconds)}\n`);
      rows.push(['push time slope', `${summary.slopePer100 >= 0 ? '+' : ''}${summary.slopePer100.toFixed(3)} s per 100 apps`]);
      rows.push(['pushes failed', String(summary.failed)]);
      rows.push(['load average after pushes', load()]);
      // Asleep: every replica scaled to zero, so the up process has no child left.
      const waitStarted = performance.now();
      for (;;) {
        const children = processTree(pid).length - 1;
        if (children === 0) break;
        if (performance.now() - waitStarted > asleepTimeoutS * 1000) {
          log(`still ${children} processes under dormant up after ${asleepTimeoutS} s: measuring anyway`);
          break;
        }
        await sleep(2000);
      }
      rows.push(['all asleep after the last push', `${((performance.now() - waitStarted) / 1000).toFixed(0)} s`]);
    } else {
      const manifest = Array.from({ length: apps }, (_, i) =>
        JSON.stringify({ apiVersion: 'dormant.dev/v1alpha1', kind: 'App', metadata: { name: appName(i + 1) }, spec: {} }),
      ).join('\n---\n');
      const file = join(work, 'apps.yaml');
      await writeFile(file, manifest);
      const started = performance.now();
      const applied = await dormant('apply', '-f', file, '--max-file-mb', '64');
      if (applied.code !== 0) throw new Error(`dormant apply failed: ${applied.stderr}`);
      rows.push([`dormant apply of ${apps} Apps`, `${((performance.now() - started) / 1000).toFixed(1)} s`]);
    }

    log(`settling ${settleS} s`);
    await sleep(settleS * 1000);
    log(`measuring ${idleS} s idle`);
    const loadBefore = load();
    const [cpu0, version0, t0] = [cpuSeconds(pid), await counter(stateDir), performance.now()];
    const rss: number[] = [];
    while (performance.now() - t0 < idleS * 1000) {
      rss.push(rssMib(pid));
      await sleep(1000);
    }
    const [cpu1, version1, t1] = [cpuSeconds(pid), await counter(stateDir), performance.now()];
    const windowS = (t1 - t0) / 1000;
    rows.push([`idle CPU over ${idleS} s`, `${((100 * (cpu1 - cpu0)) / windowS).toFixed(1)} % of one core`]);
    rows.push(['RSS (mean / max)', `${(rss.reduce((a, b) => a + b, 0) / Math.max(1, rss.length)).toFixed(0)} / ${Math.max(...rss).toFixed(0)} MiB`]);
    rows.push(['store writes (counter growth)', `${((version1 - version0) / windowS).toFixed(1)} per s`]);
    rows.push(['load average during idle', `${loadBefore} -> ${load()}`]);

    if (straceS > 0) {
      if (spawnSync('sh', ['-c', 'command -v strace']).status !== 0) {
        rows.push(['file opens', 'strace missing: apt-get install strace']);
      } else {
        log(`counting store syscalls with strace for ${straceS} s`);
        const traceFile = join(work, 'strace.log');
        const tracer = spawn('strace', ['-f', '-qq', '-e', 'trace=openat,rename,renameat,renameat2', '-o', traceFile, '-p', String(pid)], { stdio: 'ignore' });
        await sleep(straceS * 1000);
        tracer.kill('SIGINT');
        await once(tracer, 'exit');
        const counts = countStoreSyscalls(await readFile(traceFile, 'utf8').catch(() => ''));
        const per = (n: number) => `${(n / straceS).toFixed(1)} per s`;
        rows.push(['App file opens', per(counts.appOpens)]);
        rows.push(['Revision file opens', per(counts.revisionOpens)]);
        rows.push(['resource-version counter opens', per(counts.counterOpens)]);
        rows.push(['App file writes', per(counts.appWrites)]);
        rows.push(['Revision file writes', per(counts.revisionWrites)]);
      }
    }
    await writeFile(upLog, Buffer.concat(logLines));
  } finally {
    if (up && up.exitCode === null && up.signalCode === null) {
      up.kill('SIGTERM');
      const exited = once(up, 'exit');
      const timer = setTimeout(() => up?.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    if (values.keep) log(`kept ${work}`);
    else await rm(work, { recursive: true, force: true });
  }
  process.stdout.write(`${formatSummary(rows)}\n`);
}

await main();
