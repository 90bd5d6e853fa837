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
import { closeSync, constants, existsSync, openSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildErrors } from './errors.js';
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
export function parseImageInspect(json: string): { id: string; config: ImageRunConfig } {
  const parsed = JSON.parse(json) as unknown;
  const image = (Array.isArray(parsed) ? parsed[0] : parsed) as { Id?: unknown; Config?: Record<string, unknown> } | undefined;
  if (!image || typeof image.Id !== 'string' || !/^[0-9a-f]{64}$/.test(image.Id)) throw new Error('podman image inspect gave no image id');
  const config = image.Config ?? {};
  const env: Record<string, string> = {};
  for (const line of strings(config.Env)) {
    const at = line.indexOf('=');
    if (at > 0) env[line.slice(0, at)] = line.slice(at + 1);
  }
  const workdir = typeof config.WorkingDir === 'string' && config.WorkingDir.startsWith('/') ? config.WorkingDir : '/';
  return {
    id: image.Id,
    config: { entrypoint: strings(config.Entrypoint), cmd: strings(config.Cmd), env, workdir, user: typeof config.User === 'string' ? config.User : '' },
  };
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
  return { uid, gid, home: home?.startsWith('/') ? home : '/' };
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
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Whether path is folder or inside it. Pure. */
const within = (path: string, folder: string): boolean => path === folder || path.startsWith(folder.endsWith('/') ? folder : `${folder}/`);

/** The hosts file every tree gets: the replica shares the host's network, and localhost must resolve. */
const hostsFile = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';

export class ImageTrees {
  readonly #folder: string;
  /** Trees being made or made, by app and image id: each is unpacked once. */
  readonly #making = new Map<string, Promise<ImageTree>>();

  constructor(stateDir: string) {
    this.#folder = join(stateDir, 'images', 'trees');
  }

  /**
   * The image's tree for the app, unpacked now unless it was before. owner is the app's uid
   * and gid, which get what the image's user owns. Throws BUILD_IMAGE_UNRUNNABLE.
   */
  async ensure(app: string, image: string, owner: { uid: number; gid: number }): Promise<ImageTree> {
    const key = `${app}\n${image}`;
    const known = this.#making.get(key);
    if (known) return known;
    const making = this.#make(app, image, owner);
    this.#making.set(key, making);
    making.catch(() => this.#making.delete(key));
    return making;
  }

  /** Removes the app's trees but those of the images it names (those its replicas may run); one being unpacked stays. */
  async keepOnly(app: string, images: ReadonlySet<string>): Promise<void> {
    const folder = join(this.#folder, app);
    let names: string[];
    try {
      names = readdirSync(folder);
    } catch {
      return;
    }
    const kept = new Set<string>();
    for (const [key, making] of this.#making) {
      if (!key.startsWith(`${app}\n`)) continue;
      if (images.has(key.slice(app.length + 1))) {
        const tree = await making.catch(() => undefined);
        if (tree) kept.add(tree.id);
      } else this.#making.delete(key);
    }
    await Promise.all(names.filter((name) => !name.startsWith('.') && !kept.has(name)).map((name) => rm(join(folder, name), { recursive: true, force: true })));
  }

  /** Removes every tree of the app (it was deleted). */
  async removeApp(app: string): Promise<void> {
    for (const key of this.#making.keys()) if (key.startsWith(`${app}\n`)) this.#making.delete(key);
    await rm(join(this.#folder, app), { recursive: true, force: true });
  }

  async #make(app: string, image: string, owner: { uid: number; gid: number }): Promise<ImageTree> {
    const env = podmanEnv(process.env);
    const { id, config } = parseImageInspect((await run('podman', ['image', 'inspect', '--format', 'json', image], { env, maxBuffer: 4 * 1024 * 1024 })).stdout);
    const folder = join(this.#folder, app, id);
    const made = join(folder, 'tree.json');
    if (existsSync(made)) return JSON.parse(readFileSync(made, 'utf8')) as ImageTree;
    const scratch = join(this.#folder, app, `.unpack-${randomBytes(4).toString('hex')}`);
    try {
      const root = join(scratch, 'root');
      mkdirSync(root, { recursive: true, mode: 0o755 });
      await exportInto(image, root, env);
      const user = resolveImageUser(config.user, readInTree(root, 'etc/passwd'), readInTree(root, 'etc/group'));
      if (typeof user === 'string') throw buildErrors.imageUnrunnable({ image, reason: user });
      if (imageCommand(config).length === 0) throw buildErrors.imageUnrunnable({ image, reason: 'it names no CMD or ENTRYPOINT' });
      prepareTree(root, image, config, user);
      await giveToOwner(root, user, owner);
      const home = user.home;
      const homeApart = home !== '/' && pathInTree(root, home) === 'folder' && (config.workdir === '/' || (!within(home, config.workdir) && !within(config.workdir, home)));
      const tree: ImageTree = { root: join(folder, 'root'), config, user, id, ...(homeApart ? { writableHome: home } : {}) };
      writeFileSync(join(scratch, 'tree.json'), JSON.stringify(tree));
      rmSync(folder, { recursive: true, force: true });
      renameSync(scratch, folder);
      return tree;
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
}

/** The image's files, flattened (podman create, then export into tar), into root. */
async function exportInto(image: string, root: string, env: Record<string, string | undefined>): Promise<void> {
  const name = `dormant-unpack-${randomBytes(6).toString('hex')}`;
  // A command of its own: the image may name none, and the container never starts.
  await run('podman', ['create', '--name', name, '--entrypoint', '', image, '/dormant-never-started'], { env });
  // Through a file: podman export cannot write to a socket, which is what Node's pipes are.
  const archive = `${root}.tar`;
  try {
    await run('podman', ['export', '-o', archive, name], { env });
    // As root, tar keeps owners and modes.
    await run('tar', ['-x', '--numeric-owner', '-f', archive, '-C', root], { maxBuffer: 1024 * 1024 });
  } finally {
    rmSync(archive, { force: true });
    await run('podman', ['rm', '-f', name], { env }).catch(() => undefined);
  }
}

/**
 * Makes the tree runnable read-only: the folders bubblewrap mounts over exist, localhost
 * resolves and DNS is the host's; the WORKDIR is a real folder (Dormant mounts it as root).
 */
function prepareTree(root: string, image: string, config: ImageRunConfig, user: ImageUser): void {
  for (const path of ['proc', 'dev', 'tmp', 'etc']) {
    const kind = pathInTree(root, path);
    if (kind === 'folder') continue;
    rmSync(join(root, path), { force: true, recursive: true });
    mkdirSync(join(root, path), { mode: path === 'tmp' ? 0o1777 : 0o755 });
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
