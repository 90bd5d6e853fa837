import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import { constants, existsSync } from 'node:fs';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bindToDormant, type LifetimeScope } from '../lifetime/index.js';
import type { BuildPlan } from './detect.js';
import { staticServerFile } from './detect.js';
import { buildErrors } from './errors.js';

export interface RunBuildOptions {
  /** The checked-out tree; it becomes the release folder. */
  readonly dir: string;
  /** Each line of the build's output, as it comes. */
  readonly onLine: (line: string) => void;
  /** The app's build cache, kept between its builds: npm's download cache, corepack and the package managers it fetches. */
  readonly cacheDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
  /** Called when a step begins. */
  readonly onStep?: (name: string) => void;
  /** The tag a Dockerfile build gets (localhost/dormant/APP:REVISION). */
  readonly imageTag?: string;
  /** Labels a Dockerfile build's image gets (the state folder that made it). */
  readonly imageLabels?: Readonly<Record<string, string>>;
  /** Turns each step's command line and environment into what runs it in the app's sandbox (sandbox/); without it, steps run as Dormant's user. */
  readonly confine?: (command: readonly string[], env: Readonly<Record<string, string | undefined>>) => { readonly argv: string[]; readonly env: Readonly<Record<string, string>>; readonly input3: string };
}

const staticServerSource = fileURLToPath(new URL('./static-server.cjs', import.meta.url));

export interface RunCommandOptions {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly onLine: (line: string) => void;
  readonly signal?: AbortSignal;
  /** What dies with Dormant: the command and all it starts (default), or only its own process (podman). */
  readonly lifetime?: LifetimeScope;
  /** The command binds itself to Dormant's life already (a sandbox does): not wrapped again. */
  readonly bound?: boolean;
  /** Written to the command's file descriptor 3, then closed (a sandbox reads the tenant's environment there). */
  readonly input3?: string;
}

/**
 * Runs a command in its own process group, line by line to onLine; resolves with why it
 * failed, or undefined. It and what it starts die with Dormant (lifetime/).
 */
export function runCommand(command: readonly string[], options: RunCommandOptions): Promise<string | undefined> {
  return new Promise((resolve) => {
    const [program = '', ...args] = options.bound ? command : bindToDormant(command, options.lifetime ?? 'tree');
    const input3 = options.input3;
    const child = spawn(program, args, { cwd: options.cwd, env: options.env, stdio: input3 === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe', 'pipe'], detached: true });
    if (input3 !== undefined) {
      const fd3 = child.stdio[3] as Writable | null | undefined;
      fd3?.on('error', () => undefined); // the command ended without reading it
      fd3?.end(input3);
    }
    const abort = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    if (options.signal?.aborted) abort();
    else options.signal?.addEventListener('abort', abort, { once: true });
    // One buffer per stream, so that a partial line of one is not joined to the other.
    const lineReader = () => {
      const reader = {
        pending: '',
        onData(chunk: Buffer) {
          reader.pending += chunk.toString('utf8');
          const lines = reader.pending.split(/\r?\n|\r/);
          reader.pending = lines.pop() ?? '';
          for (const line of lines) options.onLine(line);
        },
      };
      return reader;
    };
    const out = lineReader();
    const err = lineReader();
    child.stdout?.on('data', out.onData);
    child.stderr?.on('data', err.onData);
    child.on('error', (error) => resolve(`could not start (${error.message})`));
    // On its exit, not the pipes' close: a process it handed its stdout to (over a Unix socket) could hold them open forever.
    let settled = false;
    const settle = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', abort);
      for (const reader of [out, err]) if (reader.pending !== '') options.onLine(reader.pending);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve(code === 0 ? undefined : signal ? `was killed by ${signal}` : `exited ${code}`);
    };
    child.on('exit', (code, signal) => {
      // Its last lines may still be in the pipes: a moment for them.
      const late = setTimeout(() => settle(code, signal), 1000);
      child.once('close', () => {
        clearTimeout(late);
        settle(code, signal);
      });
    });
  });
}

/**
 * Corepack from npm, pinned. Node 20's bundled corepack predates the registry's key
 * rotation and fails every download; 0.34.7, the last whose engines list Node 20, reads
 * signatures only from abbreviated metadata, which some registries and mirrors omit, so
 * it fails too. 0.36.0 fetches the full metadata and verifies, and runs on Node 20 even
 * though its engines field names only 22 and later.
 */
const corepackVersion = '0.36.0';

/** The command and what runCommand needs to run it as the build does: in the app's sandbox when there is one. */
function confined(options: RunBuildOptions, command: readonly string[], env: Readonly<Record<string, string | undefined>>): [string[], { env: Readonly<Record<string, string | undefined>>; bound?: boolean; input3?: string }] {
  if (!options.confine) return [[...command], { env }];
  const sandboxed = options.confine(command, env);
  return [sandboxed.argv, { env: sandboxed.env, bound: true, input3: sandboxed.input3 }];
}

/** Installs corepack into the build cache once; returns the folder with its yarn and pnpm shims. */
async function ensureCorepack(options: RunBuildOptions): Promise<string> {
  const prefix = join(options.cacheDir, `corepack-${corepackVersion}`);
  const bin = join(prefix, 'node_modules', '.bin');
  if (existsSync(join(bin, 'corepack'))) return bin;
  options.onStep?.(`installing corepack ${corepackVersion} (once)`);
  // Into a fresh folder (npm makes it, as the user the build runs as), then renamed: two builds at once cannot see half an install.
  const staging = join(options.cacheDir, `corepack-install-${randomBytes(6).toString('hex')}`);
  const [argv, how] = confined(options, ['npm', 'install', '--prefix', staging, `corepack@${corepackVersion}`, '--no-audit', '--no-fund', '--engine-strict=false'], {
    ...options.env,
    npm_config_cache: join(options.cacheDir, 'npm'),
  });
  const failure = await runCommand(argv, {
    ...how,
    cwd: options.cacheDir,
    onLine: options.onLine,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (failure !== undefined) {
    await rm(staging, { recursive: true, force: true });
    throw buildErrors.stepFailed({ step: `npm install corepack@${corepackVersion}`, exit: failure });
  }
  await rename(staging, prefix).catch(async () => {
    // Another build installed it first.
    await rm(staging, { recursive: true, force: true });
  });
  return bin;
}

/** podman build of the plan's Dockerfile, its output streamed; podman's layer cache makes repeated builds quick. */
async function buildImage(plan: BuildPlan, options: RunBuildOptions): Promise<void> {
  const spec = plan.dockerfile;
  if (!spec || !options.imageTag) throw new Error('a Dockerfile build needs the Dockerfile and an image tag');
  if (!existsSync('/usr/bin/podman') && !existsSync('/usr/local/bin/podman')) throw buildErrors.noPodman({});
  options.onStep?.(`podman build -t ${options.imageTag}`);
  let step = '';
  let missingImage = '';
  const failure = await runCommand(
    [
      'podman',
      'build',
      '--layers',
      '-t',
      options.imageTag,
      ...Object.entries(options.imageLabels ?? {}).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
      '-f',
      join(options.dir, spec.file),
      ...Object.entries(spec.args).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
      join(options.dir, spec.context),
    ],
    {
      cwd: options.dir,
      env: podmanEnv(options.env),
      // The build's containers run under conmon, outside any namespace of ours.
      lifetime: 'process',
      onLine: (line) => {
        const at = /^STEP \d+\/\d+: (.*)$/.exec(line);
        if (at?.[1]) step = at[1];
        const pull = /initializing source docker:\/\/(\S+?): |Trying to pull (\S+)\.\.\./.exec(line);
        if (pull) missingImage = (pull[1] ?? pull[2] ?? '').replace(/^docker\.io\/library\//, '');
        options.onLine(line);
      },
      ...(options.signal ? { signal: options.signal } : {}),
    },
  );
  if (failure === undefined) return;
  if (missingImage && step.startsWith('FROM')) throw buildErrors.baseImageMissing({ image: missingImage });
  throw buildErrors.podmanBuildFailed({ step, exit: failure });
}

/** podman's environment for builds: Dormant's containers.conf (hack/containers.sh). */
export function podmanEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  return { ...env, CONTAINERS_CONF: env.CONTAINERS_CONF ?? join(env.DORMANT_CACHE ?? join(homedir(), '.cache', 'dormant'), 'containers.conf') };
}

/** Runs the plan's steps in order in the release folder; throws BUILD_STEP_FAILED on the first failure. */
export async function runBuild(plan: BuildPlan, options: RunBuildOptions): Promise<void> {
  if (plan.kind === 'dockerfile') return buildImage(plan, options);
  await mkdir(options.cacheDir, { recursive: true });
  const corepackBin = plan.steps.some((step) => step.corepack) ? await ensureCorepack(options) : undefined;
  const env: Record<string, string | undefined> = {
    ...options.env,
    npm_config_cache: join(options.cacheDir, 'npm'),
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
  };
  if (corepackBin) {
    env.PATH = `${corepackBin}:${options.env.PATH ?? ''}`;
    env.COREPACK_HOME = join(options.cacheDir, 'corepack');
    env.COREPACK_ENABLE_DOWNLOAD_PROMPT = '0';
  }
  for (const step of plan.steps) {
    options.signal?.throwIfAborted();
    options.onStep?.(step.name);
    const [argv, how] = confined(options, step.command, env);
    const failure = await runCommand(argv, {
      ...how,
      cwd: options.dir,
      onLine: options.onLine,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (failure !== undefined) throw buildErrors.stepFailed({ step: step.name, exit: failure });
  }
  if (plan.kind === 'static') {
    // The build may have left a symbolic link there, to a file of Dormant's: replaced, never followed.
    const target = join(options.dir, staticServerFile);
    await rm(target, { force: true });
    await copyFile(staticServerSource, target, constants.COPYFILE_EXCL);
  }
}
