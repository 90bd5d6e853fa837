/**
 * An app's bare repository: objects are isomorphic-git's, the rest is ours: packs are
 * checked in quarantine before they join the repository, refs move by compare-and-swap,
 * and a ref only ever points to a commit whose whole history and trees are present.
 */
import * as fs from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import git from 'isomorphic-git';
import { writeFileAtomic } from '../state-folder/index.js';
import { entryNameProblem, objectExists, PackRejected } from './pack-index.js';
import { type InThreadLimits, inThreadLimits, PackIndexer, type PackIndexing, SmallPackIndexer } from './pack-indexer.js';
import { type PackLimits, PackScanRefused, type PackSummary, scanPack } from './pack-scan.js';
import type { AdvertisedRef } from './pkt-line.js';

export { PackRejected };

/** A pack that joined the repository; remove() takes it out again if its push fails. */
export interface AdmittedPack {
  readonly objects: number;
  remove(): Promise<void>;
}

/** refs/heads/... or refs/tags/..., by git's check-ref-format rules that matter here. */
export function isValidRefName(ref: string): boolean {
  if (!/^refs\/(heads|tags)\/[^\s~^:?*[\\]+$/.test(ref) || [...ref].some((c) => c < ' ' || c === '\x7f')) return false;
  return !ref.includes('..') && !ref.includes('//') && !ref.includes('@{') && !ref.endsWith('/') && !ref.endsWith('.') && !ref.split('/').some((part) => part.startsWith('.') || part.endsWith('.lock'));
}

/**
 * Removes an app's repository, release folders and build cache (when the app is deleted).
 * The cache goes too: an app made later with the same name (and so the same uid) must not
 * find a package or tool the deleted one left there.
 */
export async function removeAppFiles(stateDir: string, app: string): Promise<void> {
  await rm(join(stateDir, 'repos', `${app}.git`), { recursive: true, force: true });
  await rm(join(stateDir, 'releases', app), { recursive: true, force: true });
  await rm(join(stateDir, 'cache', 'apps', app), { recursive: true, force: true });
  await rm(join(stateDir, 'build-logs', app), { recursive: true, force: true });
}

export class AppRepository {
  readonly gitdir: string;
  readonly #quarantineDir: string;

  readonly #inThread: InThreadLimits;

  private constructor(gitdir: string, quarantineDir: string, inThread: InThreadLimits) {
    this.gitdir = gitdir;
    this.#quarantineDir = quarantineDir;
    this.#inThread = inThread;
  }

  /**
   * The app's repository under reposDir. It is created when a pack is admitted (under the
   * push's lock), not before: a push that fails before that leaves no folder behind, and
   * removeIfEmpty takes away one that ends with no ref. Incoming packs wait in
   * quarantineDir, outside every repository, so that removing one never cuts a push short.
   */
  static open(reposDir: string, app: string, quarantineDir: string, inThread: InThreadLimits = inThreadLimits): AppRepository {
    return new AppRepository(join(reposDir, `${app}.git`), quarantineDir, inThread);
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
   * says why; so is one whose push is closed (signal) while it is being indexed.
   */
  async admitPack(packFile: string, tips: readonly string[], limits: PackLimits, signal?: AbortSignal): Promise<AdmittedPack | undefined> {
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
    let summary: PackSummary;
    try {
      summary = await scanPack(packFile, limits);
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
    // Indexing and the closure check take seconds of CPU for a large pack: a worker thread does them.
    const job = { gitdir: this.gitdir, packFile };
    const indexer: PackIndexing =
      summary.objects <= this.#inThread.maxObjects && summary.indexBytes <= this.#inThread.maxIndexBytes ? new SmallPackIndexer(job, signal) : PackIndexer.start(job, signal);
    try {
      let oids: string[];
      try {
        oids = await indexer.indexed();
      } catch (error) {
        // Stopped first, so that it writes no index after the discard.
        await indexer.close();
        await discard();
        throw error;
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
        await indexer.checkClosed();
        await this.#checkTips(tips, new Set(oids));
      } catch (error) {
        await admitted.remove();
        throw error;
      }
      return admitted;
    } finally {
      await indexer.close();
    }
  }

  async #checkTips(tips: readonly string[], inPack: ReadonlySet<string>): Promise<void> {
    const known = new Set<string>();
    for (const tip of tips) {
      if (!(await objectExists(this.gitdir, tip, inPack, known, {}))) throw new PackRejected(`${tip} is not in the pack nor in the repository: the pack is incomplete`);
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
