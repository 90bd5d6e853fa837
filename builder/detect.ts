/**
 * How to build and start an app, decided from the files of its tree (Heroku's buildpack
 * detection, narrowed to what runs as a process here). Pure apart from reading the tree.
 */
import { createReadStream, lstatSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { open, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import semver from 'semver';
import { isDormantError } from '../errors/index.js';
import { buildErrors } from './errors.js';
import { type DependencyLayer, dependencyKey } from './dependency-layer.js';
import { nodeStack } from './stack-names.js';
import { detectGo } from './detect-go.js';
import { detectJava, type JavaChoice, type JavaRequest } from './detect-java.js';
import { detectPython, pythonFiles } from './detect-python.js';
import type { GoChoice, GoMod } from './go-version.js';
import { procfileWeb, shellStart } from './start-command.js';

export { procfileWeb, shellStart };
import { type NodeChoice, type NodeRequest, nodeRequest } from './node-version.js';
import type { PythonChoice, PythonRequest } from './python-version.js';

/** spec.build.strategy: auto decides from the files; the others force a kind. */
export type BuildStrategy = 'auto' | 'dockerfile' | 'node' | 'python' | 'go' | 'java' | 'static';

export interface BuildStep {
  /** What the pusher reads: "npm ci". */
  readonly name: string;
  readonly command: readonly string[];
  /** Runs yarn or pnpm: this version, installed from its npm package, is first on PATH. */
  readonly packageManager?: PackageManager;
  /** Set for this step only (NODE_ENV=production for the app's build script). */
  readonly env?: Readonly<Record<string, string>>;
  /** Installs the plan's dependencies: skipped when the app's last build left them for the same key (plan.dependencies). */
  readonly installs?: true;
  /** Brings kept dependencies up to date (a near no-op when they are): runs whether or not they were reused, and what it makes is kept too. */
  readonly refreshes?: true;
  /** Written to the command's standard input (a file the step writes in the sandbox, from what Dormant made of the tenant's files). */
  readonly input?: string;
}



/** yarn or pnpm at one version, and why that one (the pusher reads it). */
export interface PackageManager {
  readonly name: 'pnpm' | 'yarn';
  readonly version: string;
  /** The npm package it comes from (yarn 2 and later: @yarnpkg/cli-dist). */
  readonly npmPackage: string;
  /** The tarball's sha512 (hex) a `packageManager` pin gives: the download must match it. */
  readonly sha512?: string;
  readonly why: string;
}

export interface BuildPlan {
  /** "node 20, npm ci", "Procfile", "static site". */
  readonly summary: string;
  readonly kind: 'node' | 'python' | 'go' | 'java' | 'procfile' | 'static' | 'dockerfile';
  readonly steps: readonly BuildStep[];
  /** How a replica starts, run in the release folder (empty for images: their CMD starts them). */
  readonly start: readonly string[];
  /** The Node a node plan builds and runs with. */
  readonly node?: NodeChoice;
  /** The Python (and its stack image) a python plan builds and runs with. */
  readonly python?: PythonChoice;
  /** The Go toolchain a go plan builds with. */
  readonly go?: GoChoice;
  /** The JDK (and its stack image, with Maven) a java plan builds and runs with. */
  readonly java?: JavaChoice;
  /** For a Dockerfile build: what podman builds. */
  readonly dockerfile?: { readonly file: string; readonly context: string; readonly args: Readonly<Record<string, string>> };
  /** Dependencies that a build with the same key reuses instead of installing them again. */
  readonly dependencies?: DependencyLayer;
}

export interface DetectOptions {
  /** Which Node runs the app, given what it asks for (node-version.ts's chooseNode, with the releases that can be had). */
  readonly chooseNode: (request: NodeRequest | undefined) => Promise<NodeChoice>;
  /** Which Python, from the stack images here, given what the app asks for (python-version.ts's choosePython). */
  readonly choosePython: (request: PythonRequest | undefined) => Promise<PythonChoice>;
  /** Which Go toolchain, from those the module proxy has, given the app's go.mod (go-version.ts's chooseGo). */
  readonly chooseGo: (goMod: GoMod) => Promise<GoChoice>;
  /** Which JDK, from the JDK stack images here, given what the app asks for (detect-java.ts's chooseJava). */
  readonly chooseJava: (request: JavaRequest | undefined) => Promise<JavaChoice>;
  /** The App's spec.build: auto (from its files), or the kind it forces. */
  readonly strategy: BuildStrategy;
  readonly context?: string;
  readonly dockerfile?: string;
  readonly args?: Readonly<Record<string, string>>;
}

interface PackageJson {
  readonly scripts?: Record<string, string>;
  readonly dependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly engines?: { readonly node?: unknown };
  readonly volta?: { readonly node?: unknown };
  readonly packageManager?: unknown;
  readonly workspaces?: unknown;
}

/**
 * The path in the pushed tree, after its symbolic links, or BUILD_LINK_LEAVES_SOURCE: Dormant
 * reads these files with its own rights, so a link to one of its keys must not be followed.
 */
async function withinSource(sourceDir: string, name: string): Promise<string> {
  const root = await realpath(sourceDir);
  // A link whose target is missing is refused as one that leaves: either way, the same answer, so a push learns nothing of the host's paths.
  const real = await realpath(join(sourceDir, name)).catch(() => {
    throw buildErrors.linkLeavesSource({ path: name });
  });
  if (real !== root && !real.startsWith(`${root}/`)) throw buildErrors.linkLeavesSource({ path: name });
  return real;
}

export async function detectBuild(sourceDir: string, options: DetectOptions): Promise<BuildPlan> {
  // A name in the tree, file or link, whatever a link points to: whether a link's target exists outside is not probed (reading it is refused below).
  // A nested name's folders must be folders of the tree, not links: lstat follows a link in the middle of a path, which would probe the host's folders.
  const has = (name: string) => {
    const parts = name.split('/');
    try {
      for (let depth = 1; depth < parts.length; depth += 1) if (!lstatSync(join(sourceDir, ...parts.slice(0, depth))).isDirectory()) return false;
      lstatSync(join(sourceDir, name));
      return true;
    } catch {
      return false;
    }
  };
  // Detection reads a file whole with Dormant's memory: a tenant's is bounded.
  const readSource = async (name: string) => {
    const path = await withinSource(sourceDir, name);
    if ((await stat(path)).size > maxDetectionRead) throw buildErrors.fileTooLarge({ path: name, limit: `${maxDetectionRead / 1024 ** 2} MiB` });
    return readFile(path, 'utf8');
  };
  // A lockfile's first 64 KiB: where its format is stated (a monorepo's lockfile may be larger than detection reads whole).
  const readHead = async (name: string) => {
    const handle = await open(await withinSource(sourceDir, name), 'r');
    try {
      const buffer = Buffer.alloc(64 * 1024);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      return buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  };
  const dockerfile = join(options.context ?? '.', options.dockerfile ?? 'Dockerfile');
  if (options.strategy === 'dockerfile' || has(dockerfile)) {
    if (!has(dockerfile)) throw buildErrors.noDockerfile({ path: dockerfile });
    // podman reads the Dockerfile and sends the context with Dormant's rights.
    await withinSource(sourceDir, options.context ?? '.');
    const from = fromImages(await readSource(dockerfile));
    const alpine = from.find((image) => /alpine/i.test(image));
    if (alpine) throw buildErrors.alpine({ image: alpine, suggestion: slimInstead(alpine) });
    return {
      summary: `Dockerfile, FROM ${from.join(', ') || '?'}`,
      kind: 'dockerfile',
      steps: [{ name: 'podman build', command: [] }],
      start: [],
      dockerfile: { file: dockerfile, context: options.context ?? '.', args: options.args ?? {} },
    };
  }
  // A folder's entries, as lstat sees them: a link is neither followed nor taken for a folder.
  const list = async (folder: string) => {
    const real = await withinSource(sourceDir, folder);
    return (await readdir(real, { withFileTypes: true })).map((entry) => ({ name: entry.name, folder: entry.isDirectory() }));
  };
  // A file's sha256, read as a stream: a lockfile may be larger than detection reads whole.
  const hash = async (name: string) => {
    const digest = createHash('sha256');
    for await (const chunk of createReadStream(await withinSource(sourceDir, name))) digest.update(chunk as Buffer);
    return digest.digest('hex');
  };
  const files = { has, read: readSource, list, hash };
  const procfileText = has('Procfile') ? procfileWeb(await readSource('Procfile')) : undefined;
  if (has('Procfile') && procfileText === undefined) throw buildErrors.procfileNoWeb({});
  const forced = options.strategy === 'auto' ? undefined : options.strategy;
  // The language comes from its files (package.json first); a Procfile only names the processes.
  if (forced === 'python' || (forced === undefined && !has('package.json') && pythonFiles.some(has))) return detectPython(files, procfileText, options.choosePython);
  if (forced === 'go' || (forced === undefined && !has('package.json') && !pythonFiles.some(has) && has('go.mod'))) {
    if (!has('go.mod')) throw buildErrors.strategyFiles({ strategy: 'go', files: 'go.mod' });
    return detectGo(files, procfileText, options.chooseGo);
  }
  if (forced === 'java' || (forced === undefined && !has('package.json') && !pythonFiles.some(has) && !has('go.mod') && (has('pom.xml') || has('mvnw')))) {
    if (!has('pom.xml')) throw buildErrors.strategyFiles({ strategy: 'java', files: 'pom.xml' });
    return detectJava(files, procfileText, options.chooseJava);
  }
  if (forced === 'node' && !has('package.json')) throw buildErrors.strategyFiles({ strategy: 'node', files: 'package.json' });
  if (forced === 'static' && !has('index.html')) throw buildErrors.strategyFiles({ strategy: 'static', files: 'index.html' });
  // Languages not built (yet) are refused before any work.
  if (forced === undefined && !has('package.json')) {
    for (const language of otherLanguages) {
      const found = language.files.filter(has);
      if (found.length > 0) throw buildErrors.languageNotBuilt({ language: language.name, files: found.join(', ') });
    }
  }
  const procfile = procfileText;

  if (forced !== 'static' && has('package.json')) {
    let manifest: PackageJson;
    try {
      manifest = JSON.parse(await readSource('package.json')) as PackageJson;
    } catch (error) {
      if (isDormantError(error)) throw error;
      throw buildErrors.badPackageJson({ reason: (error as Error).message });
    }
    const request = nodeRequest({
      engines: manifest.engines?.node,
      volta: manifest.volta?.node,
      ...(has('.nvmrc') ? { nvmrc: await readSource('.nvmrc') } : {}),
      ...(has('.node-version') ? { nodeVersionFile: await readSource('.node-version') } : {}),
    });
    const node = await options.chooseNode(request);
    const nodeSummary = request === undefined ? `node ${node.version.split('.')[0]}` : `node ${node.version} (${node.why})`;
    const steps: BuildStep[] = [];
    let installer: string;
    let runner = 'npm';
    let packageManager: PackageManager | undefined;
    let lockfile: string | undefined;
    if (has('pnpm-lock.yaml')) {
      packageManager = choosePackageManager('pnpm', manifest.packageManager, await readHead('pnpm-lock.yaml'));
      installer = 'pnpm install --frozen-lockfile';
      runner = 'pnpm';
      lockfile = 'pnpm-lock.yaml';
      // devDependencies too, whatever NODE_ENV the App's config sets: the build needs them; they are pruned after it.
      steps.push({ name: installer, command: ['pnpm', 'install', '--frozen-lockfile'], packageManager, installs: true, env: { npm_config_production: 'false', pnpm_config_production: 'false' } });
    } else if (has('yarn.lock')) {
      packageManager = choosePackageManager('yarn', manifest.packageManager, await readHead('yarn.lock'));
      const berry = semver.major(packageManager.version) >= 2;
      installer = berry ? 'yarn install --immutable' : 'yarn install --frozen-lockfile';
      runner = 'yarn';
      // yarn 2 and later may keep dependencies in .yarn and .pnp.cjs rather than node_modules: installed each time, from yarn's own cache.
      if (!berry) lockfile = 'yarn.lock';
      steps.push({ name: installer, command: ['yarn', 'install', ...(berry ? ['--immutable'] : ['--frozen-lockfile', '--production=false'])], packageManager, ...(berry ? {} : { installs: true as const }) });
    } else if (has('package-lock.json') || has('npm-shrinkwrap.json')) {
      installer = 'npm ci';
      lockfile = has('npm-shrinkwrap.json') ? 'npm-shrinkwrap.json' : 'package-lock.json';
      steps.push({ name: 'npm ci', command: ['npm', 'ci', '--include=dev', '--no-audit', '--no-fund'], installs: true });
    } else if (Object.keys({ ...manifest.dependencies, ...manifest.devDependencies, ...manifest.optionalDependencies }).length === 0) {
      // Nothing to install: npm would spend a third of a second saying so.
      installer = 'no dependencies';
    } else {
      installer = 'npm install';
      steps.push({ name: 'npm install', command: ['npm', 'install', '--include=dev', '--no-audit', '--no-fund'] });
    }
    const withManager = packageManager ? { packageManager } : {};
    // What the install makes is kept for the next build, under the lockfile, the Node and the tool that made it.
    // Not for a workspace (a monorepo has node_modules in each package); the key has what changes an install: package.json (its scripts), the package managers' settings, the stack.
    const workspace = manifest.workspaces !== undefined || has('pnpm-workspace.yaml');
    const installSettings = await Promise.all(['package.json', '.npmrc', '.yarnrc', '.pnpmfile.cjs'].filter(has).map(async (name) => `${name}:${await hash(name)}`));
    const dependencies =
      lockfile === undefined || workspace ? undefined : { lockfile, folders: ['node_modules'], key: dependencyKey([await hash(lockfile), ...installSettings, node.version, nodeStack, installer, packageManager?.version ?? '']) };
    const withDependencies = dependencies ? { dependencies } : {};
    // As Heroku: heroku-postbuild instead of build when the app has it, in production mode, with the devDependencies it needs installed.
    const buildScript = manifest.scripts?.['heroku-postbuild'] ? 'heroku-postbuild' : manifest.scripts?.build ? 'build' : undefined;
    if (buildScript) steps.push({ name: `${runner} run ${buildScript}`, command: [runner, 'run', buildScript], env: { NODE_ENV: 'production' }, ...withManager });
    // Then the devDependencies go: the release holds what the app runs with. (yarn 2 and later keep them: pruning needs a plugin.)
    const hasDevDependencies = typeof manifest.devDependencies === 'object' && manifest.devDependencies !== null && Object.keys(manifest.devDependencies).length > 0;
    if (hasDevDependencies && installer !== 'no dependencies') {
      if (runner === 'npm') steps.push({ name: 'npm prune --omit=dev', command: ['npm', 'prune', '--omit=dev', '--no-audit', '--no-fund'] });
      else if (runner === 'pnpm') steps.push({ name: 'pnpm prune --prod', command: ['pnpm', 'prune', '--prod'], ...withManager });
      else if (packageManager && semver.major(packageManager.version) < 2)
        steps.push({ name: 'yarn install --production', command: ['yarn', 'install', '--frozen-lockfile', '--production=true', '--ignore-scripts', '--prefer-offline'], ...withManager });
    }
    const startScript = procfile ?? manifest.scripts?.start ?? (has('server.js') ? 'node server.js' : undefined);
    // A build and nothing that serves: its output is a static site (Vite's dist/, Create React App's build/, a static export's out/).
    if (startScript === undefined && buildScript !== undefined) {
      return { summary: `${nodeSummary}, ${installer}, ${runner} run ${buildScript}, static site from ${staticOutputs.map((folder) => `${folder}/`).join(', ')}`, kind: 'static', node, steps, start: ['node', staticServerFile, ...staticOutputs], ...withDependencies };
    }
    if (startScript === undefined) throw buildErrors.noStart({});
    return {
      summary: `${nodeSummary}, ${installer}${packageManager ? ` (${packageManager.name} ${packageManager.version} ${packageManager.why})` : ''}${procfile ? ', Procfile' : ''}`,
      kind: 'node',
      node,
      steps,
      ...withDependencies,
      start: shellStart(startScript),
    };
  }
  if (procfile !== undefined) return { summary: 'Procfile', kind: 'procfile', steps: [], start: shellStart(procfile) };
  if (has('index.html')) return { summary: 'static site', kind: 'static', steps: [], start: ['node', staticServerFile] };
  if (has('public/index.html')) return { summary: 'static site in public/', kind: 'static', steps: [], start: ['node', staticServerFile, 'public'] };
  throw buildErrors.nothingToBuild({});
}

/** Languages told by their files that Dormant does not build (Pipenv's are Python's: detect-python.ts). */
const otherLanguages: readonly { readonly name: string; readonly files: readonly string[] }[] = [
  { name: 'Java or Kotlin (Gradle)', files: ['build.gradle', 'build.gradle.kts', 'settings.gradle', 'settings.gradle.kts', 'gradlew'] },
  { name: 'Ruby', files: ['Gemfile', 'Gemfile.lock', 'config.ru'] },
  { name: 'PHP', files: ['composer.json', 'composer.lock'] },
  { name: 'Rust', files: ['Cargo.toml'] },
  { name: 'Elixir', files: ['mix.exs'] },
  { name: '.NET', files: ['global.json', 'Directory.Build.props'] },
];

/**
 * The newest release of each line, for a lockfile that names no version: the line follows
 * the lockfile's format, so that a lockfile is read by the tool that wrote it.
 */
const newestOfLine = { pnpm9: '9.15.9', pnpm8: '8.15.9', pnpm7: '7.33.7', pnpm6: '6.35.1', pnpm5: '5.18.11', yarn1: '1.22.22', yarn2: '2.4.2', yarn3: '3.8.7', yarn4: '4.18.1' } as const;

/**
 * Which yarn or pnpm builds this app: the version package.json's `packageManager` pins
 * (`pnpm@9.15.9`, with an optional `+sha512.HEX` the download must match), else the line
 * that writes the lockfile's format (pnpm-lock.yaml's `lockfileVersion`; yarn.lock's
 * `__metadata.version`, none for yarn 1). Not corepack: it verifies registry signatures,
 * which mirrors often do not serve. Throws BUILD_PACKAGE_MANAGER for a pin it cannot use.
 */
export function choosePackageManager(name: 'pnpm' | 'yarn', pin: unknown, lockfile: string): PackageManager {
  if (pin !== undefined && (typeof pin !== 'string' || pin.length > 256)) throw buildErrors.packageManager({ pin: String(pin).slice(0, 64), reason: 'it is not a string of at most 256 characters' });
  const pinned = /^(npm|pnpm|yarn)@([^+\s]+)(?:\+(\w+)\.([0-9a-f]+))?$/.exec(pin?.trim() ?? '');
  if (pin !== undefined && pinned === null) throw buildErrors.packageManager({ pin, reason: 'it is not NAME@VERSION (such as pnpm@9.15.9)' });
  const [, pinnedName, pinnedVersion = '', algorithm, hash] = pinned ?? [];
  if (pinnedName === name) {
    if (semver.valid(pinnedVersion) === null) throw buildErrors.packageManager({ pin: pin ?? '', reason: `${pinnedVersion} is not an exact version` });
    return packageManager(name, pinnedVersion, 'from packageManager', algorithm === 'sha512' ? hash : undefined);
  }
  // Both formats state it in their first lines; a tenant's lockfile may be large, and is read no further.
  const head = lockfile.slice(0, 64 * 1024);
  const lockfileFormat = (pattern: RegExp) => Number.parseFloat(pattern.exec(head)?.[1] ?? 'NaN');
  if (name === 'pnpm') {
    const format = lockfileFormat(/^lockfileVersion:[ \t]*['"]?([\d.]+)/m);
    const version = format >= 9 ? newestOfLine.pnpm9 : format >= 6 ? newestOfLine.pnpm8 : format >= 5.4 ? newestOfLine.pnpm7 : format >= 5.3 ? newestOfLine.pnpm6 : format >= 5 ? newestOfLine.pnpm5 : newestOfLine.pnpm9;
    return packageManager(name, version, Number.isNaN(format) ? 'the newest pnpm 9: pnpm-lock.yaml names no lockfileVersion' : `for lockfileVersion ${format}`);
  }
  // yarn 1 writes "# yarn lockfile v1"; yarn 2 and later write YAML with __metadata.
  const format = lockfileFormat(/^__metadata:[ \t]*\r?\n[ \t]+version:[ \t]*['"]?(\d+)/m);
  if (Number.isNaN(format)) return packageManager(name, newestOfLine.yarn1, 'for a yarn 1 lockfile');
  const version = format >= 7 ? newestOfLine.yarn4 : format >= 5 ? newestOfLine.yarn3 : newestOfLine.yarn2;
  return packageManager(name, version, `for lockfile __metadata version ${format}`);
}

function packageManager(name: 'pnpm' | 'yarn', version: string, why: string, sha512?: string): PackageManager {
  const npmPackage = name === 'yarn' && semver.major(version) >= 2 ? '@yarnpkg/cli-dist' : name;
  return { name, version, npmPackage, why, ...(sha512 !== undefined ? { sha512 } : {}) };
}

/** The Debian-based tag to use instead of an Alpine one: node:20-alpine3.19 -> node:20-slim, alpine:3.19 -> debian:bookworm-slim. */
export function slimInstead(image: string): string {
  const at = image.lastIndexOf(':');
  const name = at > image.lastIndexOf('/') ? image.slice(0, at) : image;
  const tag = at > image.lastIndexOf('/') ? image.slice(at + 1) : '';
  if (/(^|\/)alpine$/.test(name)) return 'debian:bookworm-slim';
  const slimTag = tag.replace(/-?alpine[\d.]*$/i, '').replace(/^$/, 'bookworm');
  return `${name}:${slimTag}-slim`.replace(/-slim-slim$/, '-slim');
}

/** The images a Dockerfile builds FROM (not earlier stages named with AS). */
export function fromImages(text: string): string[] {
  const stages = new Set<string>();
  const images: string[] = [];
  for (const line of text.replace(/\\\r?\n/g, ' ').split(/\r?\n/)) {
    const match = /^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (!match?.[1]) continue;
    if (!stages.has(match[1].toLowerCase()) && match[1] !== 'scratch') images.push(match[1]);
    if (match[2]) stages.add(match[2].toLowerCase());
  }
  return images;
}

/** The most detection reads of one file (package.json, go.mod, pom.xml, a module's source). */
const maxDetectionRead = 8 * 1024 ** 2;

/** Where a Node build that leaves a static site puts it, by the tool that made it: the first with an index.html is served. */
export const staticOutputs = ['dist', 'build', 'out'] as const;

/** Copied into a static site's release folder, so the release runs without Dormant's sources. */
export const staticServerFile = '.dormant-static-server.cjs';
