import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import { constants, existsSync, lstatSync } from 'node:fs';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bindToDormant, type LifetimeScope } from '../lifetime/index.js';
import type { DependencyLayer } from './dependency-layer.js';
import type { BuildPlan, PackageManager } from './detect.js';
import { staticServerFile } from './detect.js';
import { buildErrors } from './errors.js';

export interface RunBuildOptions {
  /** The checked-out tree; it becomes the release folder. */
  readonly dir: string;
  /** Each line of the build's output, as it comes. */
  readonly onLine: (line: string) => void;
  /** The app's build cache, kept between its builds: npm's download cache and the yarn and pnpm versions it installed. */
  readonly cacheDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
  /** Called when a step begins. */
  readonly onStep?: (name: string) => void;
  /** The tag a Dockerfile build gets (localhost/dormant/APP:REVISION). */
  readonly imageTag?: string;
  /** Labels a Dockerfile build's image gets (the state folder that made it). */
  readonly imageLabels?: Readonly<Record<string, string>>;
  /** Where the steps see cacheDir when they run over an image (the stack's) rather than the host's root: their command lines and environment name it. */
  readonly cacheSeenAt?: string;
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
  /** Written to the command's standard input, then closed. */
  readonly stdin?: string;
}

/**
 * Runs a command in its own process group, line by line to onLine; resolves with why it
 * failed, or undefined. It and what it starts die with Dormant (lifetime/).
 */
export function runCommand(command: readonly string[], options: RunCommandOptions): Promise<string | undefined> {
  return new Promise((resolve) => {
    const [program = '', ...args] = options.bound ? command : bindToDormant(command, options.lifetime ?? 'tree');
    const input3 = options.input3;
    const stdin = options.stdin;
    const child = spawn(program, args, { cwd: options.cwd, env: options.env, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe', ...(input3 === undefined ? [] : ['pipe' as const])], detached: true });
    if (stdin !== undefined) {
      child.stdin?.on('error', () => undefined); // the command ended without reading it all
      child.stdin?.end(stdin);
    }
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

/** The command and what runCommand needs to run it as the build does: in the app's sandbox when there is one. */
function confined(options: RunBuildOptions, command: readonly string[], env: Readonly<Record<string, string | undefined>>): [string[], { env: Readonly<Record<string, string | undefined>>; bound?: boolean; input3?: string }] {
  if (!options.confine) return [[...command], { env }];
  const sandboxed = options.confine(command, env);
  return [sandboxed.argv, { env: sandboxed.env, bound: true, input3: sandboxed.input3 }];
}

/**
 * Installs the step's yarn or pnpm from its npm package into the app's build cache, once
 * per version (npm checks the tarball against the registry's integrity, as for any
 * dependency; a packageManager pin's sha512 is checked against that); returns the folder
 * of its commands, as the build's steps see it. The cache is the tenant's: everything in
 * it, the check and the move into place included, runs in the build's sandbox, never
 * with Dormant's rights.
 */
async function ensurePackageManager(options: RunBuildOptions, manager: PackageManager): Promise<string> {
  const seenCache = options.cacheSeenAt ?? options.cacheDir;
  const folder = join(seenCache, 'package-managers', `${manager.name}-${manager.version}`);
  const bin = join(folder, 'node_modules', '.bin');
  // The cache is the tenant's: looked at without following a link, which could name any path of this host.
  if (isPlainFile(options.cacheDir, ['package-managers', `${manager.name}-${manager.version}`, 'node_modules', ...manager.npmPackage.split('/'), 'package.json'])) return bin;
  options.onStep?.(`installing ${manager.name} ${manager.version} from the npm registry (once)`);
  // Into a fresh folder, then moved into place: two builds at once cannot see half an install.
  const staging = join(seenCache, 'package-managers', `install-${randomBytes(6).toString('hex')}`);
  const expected = manager.sha512 === undefined ? '' : `sha512-${Buffer.from(manager.sha512, 'hex').toString('base64')}`;
  let recorded: string | undefined;
  const [argv, how] = confined(options, ['/bin/sh', '-c', installManagerScript, 'dormant-install', staging, `${manager.npmPackage}@${manager.version}`, manager.npmPackage, expected, folder], {
    ...options.env,
    npm_config_cache: join(seenCache, 'npm'),
    npm_config_update_notifier: 'false',
  });
  const failure = await runCommand(argv, {
    ...how,
    cwd: options.cacheDir,
    onLine: (line) => {
      const mismatch = /^DORMANT-INTEGRITY (\S*)$/.exec(line);
      if (mismatch) recorded = mismatch[1] ?? '';
      else options.onLine(line);
    },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (failure === undefined) return bin;
  if (recorded !== undefined) throw buildErrors.packageManager({ pin: `${manager.name}@${manager.version}+sha512.${manager.sha512 ?? ''}`, reason: `the registry's tarball has another hash (${recorded || 'none recorded'})` });
  throw buildErrors.stepFailed({ step: `npm install ${manager.npmPackage}@${manager.version}`, exit: failure });
}

/** Where the app's build cache keeps its dependency layers, as the build's steps see it. */
const layersSeenAt = (options: RunBuildOptions) => join(options.cacheSeenAt ?? options.cacheDir, 'deps');

/**
 * The dependency layer the app's last build left under this key, copied into the release,
 * in the build's sandbox (the cache is the tenant's); whether it was. A layer that cannot
 * be copied is installed again, said so.
 */
async function restoreDependencies(options: RunBuildOptions, layer: DependencyLayer, env: Readonly<Record<string, string | undefined>>): Promise<boolean> {
  if (!isPlainFile(options.cacheDir, ['deps', layer.key, '.complete'])) {
    options.onStep?.(`dependencies: ${layer.lockfile} or the runtime changed since the last build, or none was kept: installing`);
    return false;
  }
  const started = performance.now();
  const script = 'set -e; layer="$1"; shift; for folder; do rm -rf "./$folder"; cp -a "$layer/$folder" "./$folder"; done';
  const [argv, how] = confined(options, ['/bin/sh', '-c', script, 'dormant-restore', join(layersSeenAt(options), layer.key), ...layer.folders], env);
  const failure = await runCommand(argv, { ...how, cwd: options.dir, onLine: options.onLine, ...(options.signal ? { signal: options.signal } : {}) });
  if (failure !== undefined) {
    options.onStep?.(`dependencies: the kept ones could not be copied (${failure}): installing`);
    return false;
  }
  options.onStep?.(`dependencies unchanged (${layer.lockfile}): ${layer.folders.join(', ')} reused from the last build (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  return true;
}

/** Keeps what the install made for the next build, in place of the layer kept before (one per app); a failure costs the next build an install, not this one. */
async function saveDependencies(options: RunBuildOptions, layer: DependencyLayer, env: Readonly<Record<string, string | undefined>>): Promise<void> {
  const staging = `.save-${randomBytes(4).toString('hex')}`;
  const script = [
    'set -e',
    'layers="$1"; staging="$2"; key="$3"; shift 3',
    'mkdir -p "$layers/$staging"',
    'for folder; do cp -a "./$folder" "$layers/$staging/$folder"; done',
    'touch "$layers/$staging/.complete"',
    // The layer before goes first, and what an interrupted save left (dot folders too): one per app, whatever the keys.
    'find "$layers" -mindepth 1 -maxdepth 1 ! -name "$staging" -exec rm -rf {} +',
    'mv -T "$layers/$staging" "$layers/$key"',
  ].join('\n');
  const [argv, how] = confined(options, ['/bin/sh', '-c', script, 'dormant-save', layersSeenAt(options), staging, layer.key, ...layer.folders], env);
  const failure = await runCommand(argv, { ...how, cwd: options.dir, onLine: options.onLine, ...(options.signal ? { signal: options.signal } : {}) });
  options.onLine(failure === undefined ? `dependencies kept for the next build (reused while ${layer.lockfile} is unchanged)` : `dependencies not kept (${failure}): the next build installs them again`);
}

/** Whether base/parts... is a regular file reached through real folders only (lstat at each step: no link followed). */
function isPlainFile(base: string, parts: readonly string[]): boolean {
  let path = base;
  for (const [index, part] of parts.entries()) {
    path = join(path, part);
    try {
      const stat = lstatSync(path);
      if (index === parts.length - 1 ? !stat.isFile() : !stat.isDirectory()) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * $1 staging folder, $2 package@version, $3 package, $4 the integrity a pin expects (or
 * empty), $5 where it goes. Exits 3, after a DORMANT-INTEGRITY line, when the installed
 * tarball's integrity is not the pinned one.
 */
const installManagerScript = [
  'set -e',
  'npm install --prefix "$1" "$2" --ignore-scripts --no-audit --no-fund --engine-strict=false',
  'if [ -n "$4" ]; then',
  `  node -e 'const lock = require(process.argv[1]); const got = ((lock.packages || {})["node_modules/" + process.argv[2]] || {}).integrity || ""; if (got !== process.argv[3]) { console.log("DORMANT-INTEGRITY " + got); process.exit(3); }' "$1/package-lock.json" "$3" "$4" || { rm -rf "$1"; exit 3; }`,
  'fi',
  // Another build may have put it there first.
  'mv -T "$1" "$5" 2>/dev/null || rm -rf "$1"',
].join('\n');

/**
 * uv's settings for a Python build: its download cache in the app's build cache, never a
 * Python of its own (the stack's is the app's), copies rather than links (the cache and
 * the release are apart), bytecode compiled at build (not at each cold start), the
 * system's CA bundle (the stack's has this host's extra CAs), and the host's index, if
 * it names one.
 */
function pythonBuildEnv(seenCache: string, env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return {
    UV_CACHE_DIR: join(seenCache, 'uv'),
    UV_TOOL_DIR: join(seenCache, 'uv-tools'),
    UV_PYTHON_DOWNLOADS: 'never',
    UV_PYTHON_PREFERENCE: 'only-system',
    // The app's environment (over the stack's Python), whatever .python-version pins: Dormant chose the line (3.13.1 asked runs on Debian's 3.13.5), and uv must not look for another.
    UV_PYTHON: '.venv/bin/python',
    UV_LINK_MODE: 'copy',
    UV_COMPILE_BYTECODE: '1',
    UV_SYSTEM_CERTS: '1',
    UV_NO_PROGRESS: '1',
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
    ...(env.PIP_INDEX_URL ? { UV_DEFAULT_INDEX: env.PIP_INDEX_URL } : {}),
  };
}

/**
 * Go's settings for a build: its module and build caches in the app's build cache, the
 * toolchain Dormant chose and no other (no download of another by the go command), no cgo
 * (the stack has no C compiler: a static binary), no VCS stamp (the release has no .git).
 */
function goBuildEnv(seenCache: string, env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return {
    GOCACHE: join(seenCache, 'go-build'),
    GOMODCACHE: join(seenCache, 'go-mod'),
    GOPATH: join(seenCache, 'go'),
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
    GOFLAGS: '-buildvcs=false',
    GOTELEMETRY: 'off',
    ...(env.GOPROXY ? {} : { GOPROXY: 'https://proxy.golang.org,direct' }),
  };
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
  const seenCache = options.cacheSeenAt ?? options.cacheDir;
  const env: Record<string, string | undefined> = {
    ...options.env,
    npm_config_cache: join(seenCache, 'npm'),
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    // pnpm 10 and later skip dependencies' build scripts the app does not allow (its pnpm.onlyBuiltDependencies) and, strict, fail the install for them: an optional one's skipped script (sharp's in a Next.js app) must not fail the build.
    npm_config_strict_dep_builds: 'false',
    pnpm_config_strict_dep_builds: 'false',
  };
  if (plan.kind === 'python') Object.assign(env, pythonBuildEnv(seenCache, options.env));
  if (plan.kind === 'go') Object.assign(env, goBuildEnv(seenCache, options.env));
  // Maven's repository and the wrapper's Maven in the app's build cache.
  if (plan.kind === 'java') Object.assign(env, { MAVEN_OPTS: `-Dmaven.repo.local=${join(seenCache, 'm2', 'repository')} ${options.env.MAVEN_OPTS ?? ''}`.trim(), MAVEN_USER_HOME: join(seenCache, 'm2') });
  const layer = plan.dependencies;
  const reused = layer ? await restoreDependencies(options, layer, env) : false;
  const lastInstall = plan.steps.findLastIndex((step) => step.installs || step.refreshes);
  for (const [index, step] of plan.steps.entries()) {
    options.signal?.throwIfAborted();
    if (reused && step.installs) continue;
    // Its yarn or pnpm first on PATH: for the step and for any script that calls it.
    const managerBin = step.packageManager ? await ensurePackageManager(options, step.packageManager) : undefined;
    options.onStep?.(step.name);
    const started = performance.now();
    const [argv, how] = confined(options, step.command, { ...env, ...step.env, ...(managerBin ? { PATH: `${managerBin}:${env.PATH ?? ''}` } : {}) });
    const failure = await runCommand(argv, {
      ...how,
      cwd: options.dir,
      onLine: options.onLine,
      ...(step.input !== undefined ? { stdin: step.input } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (failure !== undefined) throw buildErrors.stepFailed({ step: step.name, exit: failure });
    options.onLine(`${step.name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    if (layer && !reused && index === lastInstall) await saveDependencies(options, layer, env);
  }
  if (plan.kind === 'static') {
    // A build that makes the site must have made it: said now, not as a replica that fails to start.
    const roots = plan.start.slice(2);
    if (roots.length > 0 && !roots.some((folder) => isPlainFile(options.dir, [folder, 'index.html']))) throw buildErrors.staticOutputMissing({ folders: roots.map((folder) => `${folder}/`).join(', ') });
    // The build may have left a symbolic link there, to a file of Dormant's: replaced, never followed.
    const target = join(options.dir, staticServerFile);
    await rm(target, { force: true });
    await copyFile(staticServerSource, target, constants.COPYFILE_EXCL);
  }
}
