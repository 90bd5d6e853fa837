// A real `dormant up` in its own process, and real git and OpenSSH clients pushing to it.
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeFrame, FrameDecoder } from '../cli/run-frames.js';

const bin = fileURLToPath(new URL('../bin/dormant.js', import.meta.url));

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runProgram(program: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: Buffer | string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(program, args, { cwd: options.cwd, env: options.env ?? process.env, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Until something accepts connections on 127.0.0.1:port; resolves with the ms it took. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/**
 * A loopback port nothing listens on, picked below Linux's ephemeral range (32768-60999):
 * a port the kernel handed out and took back may go to the next outgoing connection of any
 * test running beside this one before the caller binds it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await canListen(port)) return port;
  }
  throw new Error('no free loopback port found in 20000-31999 after 50 tries');
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export async function sshKey(dir: string, name: string): Promise<string> {
  const file = join(dir, name);
  const result = await runProgram('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
  if (result.code !== 0) throw new Error(`ssh-keygen failed: ${result.stderr}`);
  return file;
}

export function sshCommand(key: string): string {
  return `ssh -i ${key} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes`;
}

export interface DormantUp {
  /** The `dormant up` process. */
  readonly pid: number;
  /** 0 when metrics are off. */
  readonly metricsPort: number;
  readonly stateDir: string;
  readonly work: string;
  readonly httpPort: number;
  readonly sshPort: number;
  readonly adminKey: string;
  readonly remote: (app: string) => string;
  readonly dormant: (...args: string[]) => Promise<RunResult>;
  readonly get: (app: string, path?: string) => Promise<{ status: number; body: string }>;
  readonly stop: () => Promise<void>;
  /** What dormant up logged so far (JSON lines). */
  readonly logs: () => string;
  /** Until dormant up has logged a line matching pattern; rejects after timeoutMs. */
  readonly untilLogged: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
}

export interface UpProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** What dormant up logged so far (JSON lines). */
  readonly logs: () => string;
  /** Resolves once dormant up prints its banner; rejects if it exits first. */
  readonly ready: Promise<void>;
}

/** Spawns `dormant up` with these arguments; the child is there at once, for the caller to register for cleanup before awaiting `ready`. */
export function spawnUp(args: readonly string[], options: { env?: NodeJS.ProcessEnv } = {}): UpProcess {
  const child = spawn(process.execPath, [bin, 'up', ...args], { env: options.env ?? process.env });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('Press Ctrl-C')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`dormant up exited ${code}: ${stderr}`)));
  });
  return { child, logs: () => stderr, ready };
}

/** Starts `dormant up` on free ports with one admin key; metrics off unless asked for. */
export async function startDormant(extraArgs: readonly string[] = [], options: { metrics?: boolean } = {}): Promise<DormantUp> {
  const work = await mkdtemp(join(tmpdir(), 'dormant-push-'));
  const stateDir = join(work, 'state');
  const adminKey = await sshKey(work, 'admin');
  const dormant = (...args: string[]) => runProgram(process.execPath, [bin, ...args, '--state-dir', stateDir]);
  const added = await dormant('keys', 'add', `${adminKey}.pub`);
  if (added.code !== 0) throw new Error(`keys add failed: ${added.stderr}`);
  // A port found free can be taken by a test running beside this one before dormant up binds it: then again, on others.
  for (let attempt = 1; ; attempt += 1) {
    const [httpPort, sshPort, metricsPort] = [await freePort(), await freePort(), options.metrics ? await freePort() : 0];
    const { child, logs, ready } = spawnUp(['--state-dir', stateDir, '--http-port', String(httpPort), '--ssh-port', String(sshPort), '--metrics-port', String(metricsPort), ...extraArgs]);
    try {
      await ready;
    } catch (error) {
      if (attempt < 5 && /CLI_PORT_IN_USE/.test((error as Error).message)) continue;
      throw error;
    }
    return upHandle({ child, logs, stateDir, work, adminKey, dormant, httpPort, sshPort, metricsPort });
  }
}

function upHandle(up: { child: ChildProcessWithoutNullStreams; logs: () => string; stateDir: string; work: string; adminKey: string; dormant: DormantUp['dormant']; httpPort: number; sshPort: number; metricsPort: number }): DormantUp {
  const { child, logs, stateDir, work, adminKey, dormant, httpPort, sshPort, metricsPort } = up;
  return {
    pid: child.pid ?? 0,
    metricsPort,
    stateDir,
    work,
    httpPort,
    sshPort,
    adminKey,
    remote: (app) => `ssh://git@127.0.0.1:${sshPort}/${app}`,
    dormant,
    get: (app, path = '/') =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: httpPort, path, headers: { host: `${app}.localhost` }, agent: false }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      }),
    logs,
    untilLogged: async (pattern, timeoutMs = 10_000) => {
      const deadline = AbortSignal.timeout(timeoutMs);
      while (!pattern.test(logs())) {
        await once(child.stderr, 'data', { signal: deadline }).catch(() => {
          throw new Error(`dormant up did not log ${pattern} within ${timeoutMs} ms`);
        });
      }
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      await rm(work, { recursive: true, force: true });
    },
  };
}

const gitEnv = {
  GIT_AUTHOR_NAME: 'Dormant Test',
  GIT_AUTHOR_EMAIL: 'test@dormant.invalid',
  GIT_COMMITTER_NAME: 'Dormant Test',
  GIT_COMMITTER_EMAIL: 'test@dormant.invalid',
  GIT_CONFIG_NOSYSTEM: '1',
};

/** A working copy with git on the command line. */
export class WorkingCopy {
  readonly dir: string;
  readonly #key: string;

  private constructor(dir: string, key: string) {
    this.dir = dir;
    this.#key = key;
  }

  static async create(parent: string, name: string, key: string): Promise<WorkingCopy> {
    const dir = join(parent, name);
    await mkdir(dir, { recursive: true });
    const copy = new WorkingCopy(dir, key);
    await copy.git('init', '-q', '-b', 'main');
    return copy;
  }

  withKey(key: string): WorkingCopy {
    return new WorkingCopy(this.dir, key);
  }

  git(...args: string[]): Promise<RunResult> {
    return runProgram('git', args, { cwd: this.dir, env: { ...process.env, ...gitEnv, HOME: this.dir, GIT_SSH_COMMAND: sshCommand(this.#key) } });
  }

  async write(files: Record<string, string>): Promise<void> {
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(this.dir, path)), { recursive: true });
      await writeFile(join(this.dir, path), text);
    }
  }

  async commit(files: Record<string, string>, message = 'change'): Promise<string> {
    await this.write(files);
    await this.git('add', '-A');
    const committed = await this.git('commit', '-q', '-m', message);
    if (committed.code !== 0) throw new Error(`git commit failed: ${committed.stderr}`);
    return (await this.git('rev-parse', 'HEAD')).stdout.trim();
  }

  push(remote: string, ...args: string[]): Promise<RunResult> {
    // No --progress: git then sends `quiet`, as in CI, and the build output must still show.
    return this.git('push', remote, ...(args.length > 0 ? args : ['main']));
  }
}

/** The files of an app under test/fixtures/apps/NAME (shaped like public starters), by path. */
export async function fixtureApp(name: string): Promise<Record<string, string>> {
  const root = fileURLToPath(new URL(`./fixtures/apps/${name}/`, import.meta.url));
  const files: Record<string, string> = {};
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files[path.slice(root.length)] = await readFile(path, 'utf8');
  }
  return files;
}

/** A Node app without dependencies that answers with its version. */
export const nodeApp = (version: string): Record<string, string> => ({
  'package.json': JSON.stringify({ name: 'hello', version: '1.0.0', scripts: { start: 'node server.js' } }),
  'server.js': `require('node:http').createServer((q, s) => s.end('${version}\\n')).listen(process.env.PORT);\n`,
});

/** A new working copy of app with these files committed, pushed to d: the copy (for the next push) and what git said. */
export async function pushNewApp(d: DormantUp, app: string, files: Record<string, string>): Promise<{ copy: WorkingCopy; pushed: RunResult }> {
  const copy = await WorkingCopy.create(d.work, app, d.adminKey);
  await copy.commit(files);
  return { copy, pushed: await copy.push(d.remote(app)) };
}

/** Deploys a small Node app answering its own name: the bystander that must keep serving while a test attacks its neighbours. */
export async function deployBystander(d: DormantUp, app: string): Promise<void> {
  const copy = await WorkingCopy.create(d.work, app, d.adminKey);
  await copy.commit(nodeApp(app));
  const pushed = await copy.push(d.remote(app));
  if (pushed.code !== 0) throw new Error(`the push of ${app} failed: ${pushed.stderr}`);
}

/** Asks `app` every `intervalMs` until `work` ends; resolves with its result and every status seen meanwhile (0: no answer). */
export async function askingWhile<T>(d: DormantUp, app: string, work: Promise<T>, intervalMs = 20): Promise<{ result: T; statuses: number[] }> {
  let working = true;
  const done = work.finally(() => {
    working = false;
  });
  const statuses: number[] = [];
  while (working) {
    statuses.push(await d.get(app).then((r) => r.status, () => 0));
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return { result: await done, statuses };
}

/**
 * dormant run spoken by hand (the CLI's protocol on the metrics port, with the admin token):
 * a terminal of `size`, then, `resizeAfterMs` after the process started, a new size, as the
 * CLI sends it when its terminal is resized. What the process printed, its exit code, and
 * whether dormant up said it follows resizes.
 */
export async function runWithResize(options: { metricsPort: number; stateDir: string; app: string; command: string; size: string; resizeTo: string; resizeAfterMs: number }): Promise<{ follows: boolean; stdout: string; code: number | null }> {
  const token = (await readFile(join(options.stateDir, 'admin-token'), 'utf8')).trim();
  const socket = connect(options.metricsPort, '127.0.0.1');
  await once(socket, 'connect');
  const command = Buffer.from(JSON.stringify([options.command])).toString('base64');
  socket.write(`POST /apps/${options.app}/run HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\nconnection: Upgrade\r\nupgrade: dormant-run\r\nx-dormant-command: ${command}\r\nx-dormant-tty: ${options.size}\r\n\r\n`);
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    let follows: boolean | undefined;
    let stdout = '';
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      let body = chunk;
      if (follows === undefined) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const answer = head.subarray(0, end).toString('latin1');
        if (!answer.startsWith('HTTP/1.1 101')) {
          reject(new Error(`dormant up answered: ${head.toString('latin1').slice(0, 500)}`));
          socket.destroy();
          return;
        }
        follows = /^x-dormant-resize: 1$/im.test(answer);
        body = head.subarray(end + 4);
        setTimeout(() => socket.write(encodeFrame('resize', options.resizeTo)), options.resizeAfterMs);
      }
      for (const frame of decoder.push(body)) {
        if (frame.kind === 'stdout' || frame.kind === 'stderr') stdout += frame.payload.toString('utf8');
        else if (frame.kind === 'exit') {
          resolve({ follows: follows === true, stdout, code: (JSON.parse(frame.payload.toString('utf8')) as { code: number | null }).code });
          socket.end();
        } else if (frame.kind === 'error') reject(new Error(frame.payload.toString('utf8')));
      }
    });
    socket.on('error', reject);
  });
}
