/**
 * An app's bare repository: objects are isomorphic-git's, the rest is ours: packs are
 * checked in quarantine before they join the repository, refs move by compare-and-swap,
 * and a ref only ever points to a commit whose whole history and trees are present.
 */
import * as fs from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import git, { type CommitObject, type TagObject, type TreeObject } from 'isomorphic-git';
import { writeFileAtomic } from '../runtime/index.js';
import { type PackLimits, PackScanRefused, scanPack } from './pack-scan.js';
import type { AdvertisedRef } from './pkt-line.js';

/** A pack that joined the repository; remove() takes it out again if its push fails. */
export interface AdmittedPack {
  readonly objects: number;
  remove(): Promise<void>;
}

/** A pack that is not admitted; `cause` is the catalogue error to show when it is more than a bad pack. */
export class PackRejected extends Error {}

/** refs/heads/... or refs/tags/..., by git's check-ref-format rules that matter here. */
export function isValidRefName(ref: string): boolean {
  if (!/^refs\/(heads|tags)\/[^\s~^:?*[\\]+$/.test(ref) || [...ref].some((c) => c < ' ' || c === '\x7f')) return false;
  return !ref.includes('..') && !ref.includes('//') && !ref.includes('@{') && !ref.endsWith('/') && !ref.endsWith('.') && !ref.split('/').some((part) => part.startsWith('.') || part.endsWith('.lock'));
}

/** Why git would refuse to check out a tree entry of this name, or undefined. */
function entryNameProblem(name: string, siblings: ReadonlySet<string>): string | undefined {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0') || name.toLowerCase() === '.git') {
    return `holds an entry named ${JSON.stringify(name)}, which git itself refuses to check out`;
  }
  // Two entries of one name (a symlink "a" and a folder "a") would write through the symlink.
  if (siblings.has(name)) return `holds two entries named ${JSON.stringify(name)}`;
  return undefined;
}

/** Removes an app's repository and release folders (when the app is deleted). */
export async function removeAppFiles(stateDir: string, app: string): Promise<void> {
  await rm(join(stateDir, 'repos', `${app}.git`), { recursive: true, force: true });
  await rm(join(stateDir, 'releases', app), { recursive: true, force: true });
}

export class AppRepository {
  readonly gitdir: string;
  readonly #quarantineDir: string;

  private constructor(gitdir: string, quarantineDir: string) {
    this.gitdir = gitdir;
    this.#quarantineDir = quarantineDir;
  }

  /**
   * The app's repository under reposDir. It is created when a pack is admitted (under the
   * push's lock), not before: a push that fails before that leaves no folder behind, and
   * removeIfEmpty takes away one that ends with no ref. Incoming packs wait in
   * quarantineDir, outside every repository, so that removing one never cuts a push short.
   */
  static open(reposDir: string, app: string, quarantineDir: string): AppRepository {
    return new AppRepository(join(reposDir, `${app}.git`), quarantineDir);
  }

  /** Creates the bare repository if it is not there. The caller holds the repository's lock. */
  async #ensure(): Promise<void> {
    if (!fs.existsSync(join(this.gitdir, 'HEAD'))) {
      await mkdir(this.gitdir, { recursive: true });
      await git.init({ fs, gitdir: this.gitdir, bare: true, defaultBranch: 'main' });
    }
    await mkdir(join(this.gitdir, 'objects', 'pack'), { recursive: true });
  }

  /**
   * Removes the repository if no branch or tag is left in it (a first push that failed, or
   * whose refs were all deleted): nothing in it can be reached. The caller holds the lock.
   */
  async removeIfEmpty(): Promise<boolean> {
    if (!fs.existsSync(this.gitdir) || (await this.refs()).length > 0) return false;
    await rm(this.gitdir, { recursive: true, force: true });
    return true;
  }

  /** Branches and tags with their commits, for the advertisement. */
  async refs(): Promise<AdvertisedRef[]> {
    const refs: AdvertisedRef[] = [];
    const walk = async (prefix: string): Promise<void> => {
      const entries = await readdir(join(this.gitdir, prefix), { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        const name = `${prefix}/${entry.name}`;
        if (entry.isDirectory()) await walk(name);
        else if (isValidRefName(name)) {
          const oid = await this.resolve(name);
          if (oid) refs.push({ name, oid });
        }
      }
    };
    await walk('refs/heads');
    await walk('refs/tags');
    return refs.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async resolve(ref: string): Promise<string | undefined> {
    try {
      return await git.resolveRef({ fs, gitdir: this.gitdir, ref, depth: 1 });
    } catch {
      return undefined;
    }
  }

  /** A file in the repository's quarantine folder for an incoming pack. */
  async quarantineFile(): Promise<string> {
    await mkdir(this.#quarantineDir, { recursive: true });
    return join(this.#quarantineDir, `${basename(this.gitdir, '.git')}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}.pack`);
  }

  /**
   * Indexes a received pack in quarantine, moves it into the repository and checks it:
   * every object it holds must have what it names (a commit its tree and parents, a tree
   * its entries, a tag its object) in the pack or already here, and every tip must exist.
   * Since every admitted pack passed this check, whatever is here is complete, and a ref
   * can only point to a complete commit. A pack that fails is removed and PackRejected
   * says why.
   */
  async admitPack(packFile: string, tips: readonly string[], limits: PackLimits): Promise<AdmittedPack | undefined> {
    await this.#ensure();
    const size = (await stat(packFile)).size;
    const discard = async () => {
      await rm(packFile, { force: true });
      await rm(packFile.replace(/\.pack$/, '.idx'), { force: true });
    };
    if (size === 0) {
      await discard();
      await this.#checkTips(tips, new Set());
      return undefined;
    }
    // Streamed and bounded first: isomorphic-git's indexPack holds the pack and each object whole.
    try {
      await scanPack(packFile, limits);
    } catch (error) {
      await discard();
      if (error instanceof PackScanRefused) throw new PackRejected(error.message, { cause: error.error });
      throw error;
    }
    const trailer = Buffer.alloc(20);
    const handle = await open(packFile, 'r');
    try {
      await handle.read(trailer, 0, 20, size - 20);
    } finally {
      await handle.close();
    }
    let oids: string[];
    try {
      ({ oids } = await git.indexPack({ fs, dir: dirname(packFile), gitdir: this.gitdir, filepath: basename(packFile) }));
    } catch (error) {
      await discard();
      const code = (error as { code?: string }).code;
      throw new PackRejected(`the pack cannot be indexed${code ? ` (${code})` : ''}: ${(error as Error).message.slice(0, 160)}`);
    }
    const name = `pack-${trailer.toString('hex')}`;
    const packPath = join(this.gitdir, 'objects', 'pack', `${name}.pack`);
    const indexPath = join(this.gitdir, 'objects', 'pack', `${name}.idx`);
    if (fs.existsSync(indexPath)) {
      // The same pack was admitted before (a push sent again): it was checked then, and
      // this push must not own it, or a failure here would delete what another ref needs.
      await discard();
      await this.#checkTips(tips, new Set());
      return undefined;
    }
    // The index last: a reader finds a pack only through its index.
    await rename(packFile, packPath);
    await rename(packFile.replace(/\.pack$/, '.idx'), indexPath);
    const admitted: AdmittedPack = {
      objects: oids.length,
      remove: async () => {
        await unlink(indexPath).catch(() => {});
        await unlink(packPath).catch(() => {});
      },
    };
    try {
      const inPack = new Set(oids);
      await this.#checkClosed(oids, inPack);
      await this.#checkTips(tips, inPack);
    } catch (error) {
      await admitted.remove();
      throw error;
    }
    return admitted;
  }

  #exists(oid: string, inPack: ReadonlySet<string>, known: Set<string>, cache: object): Promise<boolean> {
    if (inPack.has(oid) || known.has(oid)) return Promise.resolve(true);
    return git.readObject({ fs, gitdir: this.gitdir, oid, format: 'deflated', cache }).then(
      () => {
        known.add(oid);
        return true;
      },
      () => false,
    );
  }

  async #checkTips(tips: readonly string[], inPack: ReadonlySet<string>): Promise<void> {
    const known = new Set<string>();
    for (const tip of tips) {
      if (!(await this.#exists(tip, inPack, known, {}))) throw new PackRejected(`${tip} is not in the pack nor in the repository: the pack is incomplete`);
    }
  }

  /** Every object of the pack names only objects that exist, and trees hold only names git can check out. */
  async #checkClosed(oids: readonly string[], inPack: ReadonlySet<string>): Promise<void> {
    const cache = {};
    const known = new Set<string>();
    const need = async (oid: string, what: string, from: string) => {
      if (!(await this.#exists(oid, inPack, known, cache))) {
        throw new PackRejected(`${what} ${oid} named by ${from} is missing: the pack is incomplete (a shallow or thin push?)`);
      }
    };
    for (const oid of oids) {
      let read: Awaited<ReturnType<typeof git.readObject>>;
      try {
        read = await git.readObject({ fs, gitdir: this.gitdir, oid, format: 'parsed', cache });
      } catch (error) {
        throw new PackRejected(`object ${oid} of the pack cannot be read (${(error as { code?: string }).code ?? (error as Error).message.slice(0, 120)}): the pack is damaged`);
      }
      const { type, object } = read;
      if (type === 'commit') {
        const commit = object as CommitObject;
        await need(commit.tree, 'tree', `commit ${oid}`);
        for (const parent of commit.parent) await need(parent, 'commit', `commit ${oid}`);
      } else if (type === 'tree') {
        const names = new Set<string>();
        for (const entry of object as TreeObject) {
          const problem = entryNameProblem(entry.path, names);
          if (problem) throw new PackRejected(`tree ${oid} ${problem}`);
          names.add(entry.path);
          if (entry.mode !== '160000') await need(entry.oid, entry.type, `tree ${oid}`);
        }
      } else if (type === 'tag') {
        await need((object as TagObject).object, 'object', `tag ${oid}`);
      }
    }
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    if (ancestor === descendant) return true;
    return git.isDescendent({ fs, gitdir: this.gitdir, oid: descendant, ancestor, depth: -1 });
  }

  async isCommit(oid: string): Promise<boolean> {
    try {
      await git.readCommit({ fs, gitdir: this.gitdir, oid });
      return true;
    } catch {
      return false;
    }
  }

  /** Points ref at oid (undefined deletes it). The caller holds the repository's lock and has compared the old value. */
  async setRef(ref: string, oid: string | undefined): Promise<void> {
    const file = join(this.gitdir, ref);
    if (oid === undefined) {
      await rm(file, { force: true });
      // Folders emptied by the deletion go too, so that a ref of that name can come later.
      const top = join(this.gitdir, 'refs');
      for (let dir = dirname(file); dir.startsWith(`${top}/`) && dir !== join(top, 'heads') && dir !== join(top, 'tags'); dir = dirname(dir)) {
        if (!(await rmdir(dir).then(() => true, () => false))) break;
      }
      return;
    }
    await mkdir(dirname(file), { recursive: true });
    // An empty folder left where this ref goes (refs/heads/a after refs/heads/a/b was deleted).
    await rmdir(file).catch(() => {});
    await writeFileAtomic(file, `${oid}\n`);
  }

  /** Writes the commit's tree into dir: files with their modes, symlinks; submodules are skipped. */
  async exportTree(commitOid: string, dir: string): Promise<number> {
    const cache = {};
    const { commit } = await git.readCommit({ fs, gitdir: this.gitdir, oid: commitOid, cache });
    let files = 0;
    const writeTree = async (treeOid: string, into: string): Promise<void> => {
      await mkdir(into, { recursive: true });
      const { tree } = await git.readTree({ fs, gitdir: this.gitdir, oid: treeOid, cache });
      const names = new Set<string>();
      for (const entry of tree) {
        // Checked when the pack was admitted; checked again because a path outside the release is at stake.
        const problem = entryNameProblem(entry.path, names);
        if (problem) throw new PackRejected(`tree ${treeOid} ${problem}`);
        names.add(entry.path);
        const target = join(into, entry.path);
        if (entry.type === 'tree') await writeTree(entry.oid, target);
        else if (entry.mode === '120000') {
          const { blob } = await git.readBlob({ fs, gitdir: this.gitdir, oid: entry.oid, cache });
          await symlink(Buffer.from(blob).toString('utf8'), target);
          files++;
        } else if (entry.type === 'blob') {
          const { blob } = await git.readBlob({ fs, gitdir: this.gitdir, oid: entry.oid, cache });
          await writeFile(target, blob, { mode: entry.mode === '100755' ? 0o755 : 0o644 });
          files++;
        }
      }
    };
    await writeTree(commit.tree, dir);
    return files;
  }
}
