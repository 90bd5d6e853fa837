/**
 * A Dockerfile app's image, unpacked once into a folder that all of its replicas run over,
 * read-only (sandbox/: bubblewrap makes it their root), so that no container daemon is on
 * the wake-up path: podman only builds. One tree per app and image, under
 * `<state>/images/trees/<app>/`, which no tenant sees.
 *
 * The tree's files that belong to the image's user (its USER, root when it names none)
 * are given to the app's own uid and gid: a replica runs as that user inside a user
 * namespace that maps it to the app's uid, so the app owns in the sandbox what the image
 * gave its user, and nothing else (other owners show as nobody, read-only), as in rootless
 * containers.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, constants, existsSync, fstatSync, openSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { buildErrors } from './errors.js';
import { nodeRuntimeFolder } from './node-runtimes.js';
import { goToolchainFolder } from './go-toolchains.js';
import { uvToolFolder } from './uv-tool.js';
import { podmanEnv } from './run-build.js';

const run = promisify(execFile);

/** What an image's config says about running it (podman image inspect's Config). */
export interface ImageRunConfig {
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Absolute; '/' when the image names none. */
  readonly workdir: string;
  /** As the Dockerfile's USER says it: '', a name or a number, and ':group'. */
  readonly user: string;
}

/** The image's user, resolved against its own /etc/passwd and /etc/group. */
export interface ImageUser {
  readonly uid: number;
  readonly gid: number;
  /** Its home folder in the image ('/' when its passwd names none). */
  readonly home: string;
}

export interface ImageTree {
  /** The unpacked root (read-only for replicas). */
  readonly root: string;
  readonly config: ImageRunConfig;
  readonly user: ImageUser;
  /** The image's id (sha256 hex), which names the tree. */
  readonly id: string;
  /** Where a replica's own writable home goes: its user's home, when that is a folder of the image's outside WORKDIR. */
  readonly writableHome?: string;
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []);

/** podman image inspect's JSON (an array of one) as the run config and the image id. Pure. */
export function parseImageInspect(json: string): { id: string; config: ImageRunConfig; size: number } {
  const parsed = JSON.parse(json) as unknown;
  const image = (Array.isArray(parsed) ? parsed[0] : parsed) as { Id?: unknown; Size?: unknown; Config?: Record<string, unknown> } | undefined;
  if (!image || typeof image.Id !== 'string' || !/^[0-9a-f]{64}$/.test(image.Id)) throw new Error('podman image inspect gave no image id');
  const config = image.Config ?? {};
  const env: Record<string, string> = {};
  for (const line of strings(config.Env)) {
    const at = line.indexOf('=');
    if (at > 0) env[line.slice(0, at)] = line.slice(at + 1);
  }
  const workdir = typeof config.WorkingDir === 'string' && config.WorkingDir.startsWith('/') ? normalizedPath(config.WorkingDir) : '/';
  return {
    id: image.Id,
    // Its files' bytes, unpacked: what a tree of it takes on disk.
    size: typeof image.Size === 'number' && Number.isFinite(image.Size) ? image.Size : 0,
    config: { entrypoint: strings(config.Entrypoint), cmd: strings(config.Cmd), env, workdir, user: typeof config.User === 'string' ? config.User : '' },
  };
}

/** An absolute path without '.', '..', doubled or trailing slashes. Pure. */
export function normalizedPath(path: string): string {
  const normal = posix.normalize(path);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

/**
 * Whether Dormant may mount at a path the image names (its WORKDIR): it goes into the
 * sandbox's fstab and overlay options, so nothing that either reads as a separator (space,
 * tab, newline or any control character, backslash, comma, colon). Pure.
 */
export function mountablePath(path: string): boolean {
  if (!path.startsWith('/')) return false;
  for (const char of path) {
    const code = char.charCodeAt(0);
    if (code <= 0x20 || code === 0x7f || char === '\\' || char === ',' || char === ':') return false;
  }
  return true;
}

/** The command a replica of the image runs: ENTRYPOINT then CMD, as a container runtime does. Pure. */
export function imageCommand(config: ImageRunConfig): string[] {
  return [...config.entrypoint, ...config.cmd];
}

/** Entries of /etc/passwd or /etc/group: name → fields. */
function entries(text: string | undefined): Map<string, string[]> {
  const byName = new Map<string, string[]>();
  for (const line of (text ?? '').split('\n')) {
    const fields = line.split(':');
    if (fields.length >= 3 && fields[0]) byName.set(fields[0], fields);
  }
  return byName;
}

const numeric = (text: string): number | undefined => (/^\d{1,10}$/.test(text) && Number(text) < 2 ** 32 - 1 ? Number(text) : undefined);

/**
 * USER as Docker resolves it: a name must be in passwd; a number need not be (its group is
 * then 0); ':group' by name or number. Returns the reason when it cannot be resolved. Pure.
 */
export function resolveImageUser(user: string, passwd: string | undefined, group: string | undefined): ImageUser | string {
  const [userPart = '', groupPart] = user === '' ? ['root'] : user.split(':', 2);
  const users = entries(passwd);
  const byUid = new Map([...users.values()].map((fields) => [fields[2] ?? '', fields]));
  const asNumber = numeric(userPart);
  const entry = asNumber === undefined ? users.get(userPart) : byUid.get(String(asNumber));
  if (!entry && asNumber === undefined) {
    if (userPart === 'root') return { uid: 0, gid: 0, home: '/root' };
    return `its USER ${userPart} is not in its /etc/passwd`;
  }
  const uid = asNumber ?? numeric(entry?.[2] ?? '') ?? 0;
  let gid = numeric(entry?.[3] ?? '') ?? 0;
  if (groupPart !== undefined && groupPart !== '') {
    const groupNumber = numeric(groupPart);
    const groupEntry = groupNumber === undefined ? entries(group).get(groupPart) : undefined;
    if (groupNumber === undefined && !groupEntry) return `its USER group ${groupPart} is not in its /etc/group`;
    gid = groupNumber ?? numeric(groupEntry?.[2] ?? '') ?? 0;
  }
  const home = entry?.[5];
  return { uid, gid, home: home?.startsWith('/') ? normalizedPath(home) : '/' };
}

/**
 * Whether a path inside the tree is made of real folders only, no symbolic link on the way:
 * Dormant mounts and reads under the tree as root, and a link would lead it to the host's
 * files. 'missing' when a part is not there.
 */
export function pathInTree(root: string, path: string): 'folder' | 'file' | 'missing' | 'link' | 'other' {
  let at = root;
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) return 'link';
  for (const [index, part] of parts.entries()) {
    at = join(at, part);
    let stat: ReturnType<typeof lstatSync>;
    try {
      stat = lstatSync(at);
    } catch {
      return 'missing';
    }
    if (stat.isSymbolicLink()) return 'link';
    const last = index === parts.length - 1;
    if (!last && !stat.isDirectory()) return 'other';
    if (last) return stat.isDirectory() ? 'folder' : stat.isFile() ? 'file' : 'other';
  }
  return 'folder';
}

/** A file of the tree's, read only when no link is on its way (else undefined). */
function readInTree(root: string, path: string): string | undefined {
  if (pathInTree(root, path) !== 'file') return undefined;
  const fd = openSync(join(root, path), constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    // A passwd of the image's is the tenant's: read only when it is of a sane size.
    if (fstatSync(fd).size > 1024 * 1024) return undefined;
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Where a detected app's release is mounted on its stack, as in its cluster image. */
export const stackAppFolder = '/app';

/** Whether path is folder or inside it. Pure. */
const within = (path: string, folder: string): boolean => path === folder || path.startsWith(folder.endsWith('/') ? folder : `${folder}/`);

/** The hosts file every tree gets: the replica shares the host's network, and localhost must resolve. */
const hostsFile = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';

export class ImageTrees {
  readonly #images: string;
  readonly #folder: string;
  readonly #stacks: string;
  /** Trees being made or made, by app (empty for a stack) and image: each is unpacked once. */
  readonly #making = new Map<string, Promise<ImageTree>>();
  /** Per app (and '' for stacks), the last of its makes and removals: they run one at a time, so none removes a tree another makes or hands out. */
  readonly #queues = new Map<string, Promise<unknown>>();

  readonly #maxImageBytes: number;

  /** maxImageBytes: the largest image a tree is made of (its files' size as podman reports it); 8 GiB unless given. */
  constructor(stateDir: string, limits: { readonly maxImageBytes?: number } = {}) {
    this.#maxImageBytes = limits.maxImageBytes ?? 8 * 1024 ** 3;
    this.#images = join(stateDir, 'images');
    this.#folder = join(this.#images, 'trees');
    this.#stacks = join(this.#images, 'stacks');
  }

  /**
   * Makes the folders (root's only: a tree holds what the image holds, setuid files and
   * device nodes included, which no other user of this host may reach) and removes what
   * an unpack interrupted by a crash left. At start, before any make.
   */
  prepare(): void {
    for (const folder of [this.#images, this.#folder, this.#stacks]) {
      mkdirSync(folder, { recursive: true, mode: 0o700 });
      chmodSync(folder, 0o700);
    }
    for (const parent of [this.#stacks, ...readdirSync(this.#folder).map((app) => join(this.#folder, app))]) {
      for (const name of readdirSync(parent)) if (name.startsWith('.unpack-')) rmSync(join(parent, name), { recursive: true, force: true });
    }
  }

  /**
   * A stack image's tree (the base detected apps run over), shared by every app: none of
   * its files is given to an app, and it has an /app for the release to be mounted on.
   */
  ensureStack(image: string): Promise<ImageTree> {
    return this.#ensure('', image, () => this.#make(this.#stacks, image, undefined));
  }

  /**
   * The image's tree for the app, unpacked now unless it was before. owner is the app's uid
   * and gid, which get what the image's user owns. Throws BUILD_IMAGE_UNRUNNABLE.
   */
  ensure(app: string, image: string, owner: { uid: number; gid: number }): Promise<ImageTree> {
    return this.#ensure(app, image, () => this.#make(join(this.#folder, app), image, owner));
  }

  #ensure(app: string, image: string, make: () => Promise<ImageTree>): Promise<ImageTree> {
    const key = `${app}\n${image}`;
    const known = this.#making.get(key);
    if (known) return known;
    const making = this.#serial(app, make);
    this.#making.set(key, making);
    making.catch(() => this.#making.delete(key));
    return making;
  }

  /** Runs task after the app's earlier makes and removals. */
  #serial<T>(app: string, task: () => Promise<T>): Promise<T> {
    const run = (this.#queues.get(app) ?? Promise.resolve()).then(task, task);
    this.#queues.set(
      app,
      run.catch(() => undefined),
    );
    return run;
  }

  /**
   * Removes the app's trees but those of the images it names (those its replicas may run,
   * by image id, asked of podman: a tree made before a restart counts too).
   */
  keepOnly(app: string, images: ReadonlySet<string>): Promise<void> {
    for (const key of this.#making.keys()) if (key.startsWith(`${app}\n`) && !images.has(key.slice(app.length + 1))) this.#making.delete(key);
    return this.#serial(app, async () => {
      const folder = join(this.#folder, app);
      let names: string[];
      try {
        names = readdirSync(folder);
      } catch {
        return;
      }
      const env = podmanEnv(process.env);
      const kept = new Set<string>();
      for (const image of images) {
        const inspected = await run('podman', ['image', 'inspect', '--format', 'json', image], { env, maxBuffer: 4 * 1024 * 1024 }).catch(() => undefined);
        if (inspected) kept.add(parseImageInspect(inspected.stdout).id);
      }
      await Promise.all(names.filter((name) => !name.startsWith('.') && !kept.has(name)).map((name) => rm(join(folder, name), { recursive: true, force: true })));
    });
  }

  /** Removes every tree of the app (it was deleted), once its makes have ended. */
  removeApp(app: string): Promise<void> {
    for (const key of this.#making.keys()) if (key.startsWith(`${app}\n`)) this.#making.delete(key);
    return this.#serial(app, () => rm(join(this.#folder, app), { recursive: true, force: true }));
  }

  /** Unpacks the image into parent/ID unless it is there; owner gets what its user owns (none for a stack). */
  async #make(parent: string, image: string, owner: { uid: number; gid: number } | undefined): Promise<ImageTree> {
    const env = podmanEnv(process.env);
    const { id, config, size } = parseImageInspect((await run('podman', ['image', 'inspect', '--format', 'json', image], { env, maxBuffer: 4 * 1024 * 1024 })).stdout);
    // A tenant's image is unpacked with Dormant's disk: one too large is refused before a byte is written.
    if (size > this.#maxImageBytes) throw buildErrors.imageUnrunnable({ image, reason: `it is ${gib(size)}, more than the ${gib(this.#maxImageBytes)} an image may have here; make it smaller (a multi-stage build, a slim base)` });
    const folder = join(parent, id);
    const made = join(folder, 'tree.json');
    // A stack gets the folders things are mounted on; one unpacked by an older Dormant gets those it lacks.
    const stackFolders = owner ? [] : [stackAppFolder, nodeRuntimeFolder, uvToolFolder, goToolchainFolder];
    if (existsSync(made)) {
      for (const path of stackFolders) if (pathInTree(join(folder, 'root'), path.slice(1)) === 'missing') mkdirSync(join(folder, 'root', path), { recursive: true, mode: 0o755 });
      return JSON.parse(readFileSync(made, 'utf8')) as ImageTree;
    }
    const scratch = join(parent, `.unpack-${randomBytes(4).toString('hex')}`);
    try {
      mkdirSync(parent, { recursive: true, mode: 0o700 });
      const root = join(scratch, 'root');
      mkdirSync(root, { recursive: true, mode: 0o755 });
      await exportInto(image, root, env);
      const user = resolveImageUser(config.user, readInTree(root, 'etc/passwd'), readInTree(root, 'etc/group'));
      if (typeof user === 'string') throw buildErrors.imageUnrunnable({ image, reason: user });
      if (owner && imageCommand(config).length === 0) throw buildErrors.imageUnrunnable({ image, reason: 'it names no CMD or ENTRYPOINT' });
      prepareTree(root, image, config, user, stackFolders);
      if (owner) await giveToOwner(root, user, owner);
      const home = user.home;
      const homeApart = home !== '/' && pathInTree(root, home) === 'folder' && (config.workdir === '/' || (!within(home, config.workdir) && !within(config.workdir, home)));
      const tree: ImageTree = { root: join(folder, 'root'), config, user, id, ...(homeApart ? { writableHome: home } : {}) };
      writeFileSync(join(scratch, 'tree.json'), JSON.stringify(tree));
      try {
        renameSync(scratch, folder);
      } catch (error) {
        // Made meanwhile (two names of one image id): that one stays, perhaps in use.
        if ((error as NodeJS.ErrnoException).code === 'ENOTEMPTY' || (error as NodeJS.ErrnoException).code === 'EEXIST') return JSON.parse(readFileSync(made, 'utf8')) as ImageTree;
        throw error;
      }
      return tree;
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
}

const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(bytes < 1024 ** 3 ? 3 : 1)} GiB`;

/** How long one step of an unpack (create, export, tar) may take before it is stopped: a tree that takes longer is refused. */
const unpackStepTimeoutMs = 10 * 60_000;

/** The image's files, flattened (podman create, then export into tar), into root. */
async function exportInto(image: string, root: string, env: Record<string, string | undefined>): Promise<void> {
  const name = `dormant-unpack-${randomBytes(6).toString('hex')}`;
  // A command of its own: the image may name none, and the container never starts.
  await run('podman', ['create', '--name', name, '--entrypoint', '', image, '/dormant-never-started'], { env, timeout: unpackStepTimeoutMs, killSignal: 'SIGKILL' });
  // Through a file: podman export cannot write to a socket, which is what Node's pipes are.
  const archive = `${root}.tar`;
  try {
    await run('podman', ['export', '-o', archive, name], { env, timeout: unpackStepTimeoutMs, killSignal: 'SIGKILL' });
    // As root, tar keeps owners and modes.
    await run('tar', ['-x', '--numeric-owner', '-f', archive, '-C', root], { maxBuffer: 1024 * 1024, timeout: unpackStepTimeoutMs, killSignal: 'SIGKILL' });
  } finally {
    rmSync(archive, { force: true });
    // -v: the anonymous volumes the image's VOLUMEs made go too.
    await run('podman', ['rm', '-f', '-v', name], { env }).catch(() => undefined);
  }
}

/**
 * Makes the tree runnable read-only: the folders bubblewrap mounts over exist, localhost
 * resolves and DNS is the host's; the WORKDIR is a real folder (Dormant mounts it as root).
 */
function prepareTree(root: string, image: string, config: ImageRunConfig, user: ImageUser, extraFolders: readonly string[]): void {
  if (!mountablePath(config.workdir)) throw buildErrors.imageUnrunnable({ image, reason: `its WORKDIR ${JSON.stringify(config.workdir)} has a space, a control character, a backslash, a comma or a colon, which Dormant does not mount` });
  for (const path of ['proc', 'dev', 'tmp', 'etc', ...extraFolders.map((folder) => folder.slice(1))]) {
    const kind = pathInTree(root, path);
    if (kind === 'folder') continue;
    rmSync(join(root, path), { force: true, recursive: true });
    mkdirSync(join(root, path), { recursive: true, mode: path === 'tmp' ? 0o1777 : 0o755 });
  }
  for (const [path, text] of [
    ['etc/hosts', hostsFile],
    ['etc/resolv.conf', readHostResolvConf()],
  ] as const) {
    if (pathInTree(root, path) !== 'missing') rmSync(join(root, path), { force: true, recursive: true });
    const fd = openSync(join(root, path), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    try {
      writeFileSync(fd, text);
    } finally {
      closeSync(fd);
    }
  }
  for (const [what, path] of [
    ['WORKDIR', config.workdir],
    ['home folder', user.home],
  ] as const) {
    const kind = pathInTree(root, path);
    if (kind === 'link' || kind === 'other') throw buildErrors.imageUnrunnable({ image, reason: `its ${what} ${path} is not a folder (or a symbolic link is on its way)` });
    if (kind === 'missing' && what === 'WORKDIR') mkdirSync(join(root, path), { recursive: true, mode: 0o755 });
  }
}

function readHostResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

/** What the image's user owns becomes the app's (find and chown -h: links themselves, never where they point). */
async function giveToOwner(root: string, user: ImageUser, owner: { uid: number; gid: number }): Promise<void> {
  await run('find', [root, '-xdev', '-uid', String(user.uid), '-exec', 'chown', '-h', String(owner.uid), '{}', '+']);
  await run('find', [root, '-xdev', '-gid', String(user.gid), '-exec', 'chgrp', '-h', String(owner.gid), '{}', '+']);
}
