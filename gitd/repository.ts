/**
 * An app's bare repository: objects are isomorphic-git's, the rest is ours: packs are
 * checked in quarantine before they join the repository, refs move by compare-and-swap,
 * and a ref only ever points to a commit whose whole history and trees are present.
 */
import * as fs from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import git from 'isomorphic-git';
import { writeFileAtomic } from '../runtime/index.js';
import type { AdvertisedRef } from './pkt-line.js';

/** A pack that joined the repository; remove() takes it out again if its push fails. */
export interface AdmittedPack {
  readonly objects: number;
  remove(): Promise<void>;
}

export class PackRejected extends Error {}

/** refs/heads/... or refs/tags/..., by git's check-ref-format rules that matter here. */
export function isValidRefName(ref: string): boolean {
  if (!/^refs\/(heads|tags)\/[^\s~^:?*[\\]+$/.test(ref) || [...ref].some((c) => c < ' ' || c === '\x7f')) return false;
  return !ref.includes('..') && !ref.includes('//') && !ref.includes('@{') && !ref.endsWith('/') && !ref.endsWith('.') && !ref.split('/').some((part) => part.startsWith('.') || part.endsWith('.lock'));
}

export class AppRepository {
  readonly gitdir: string;

  private constructor(gitdir: string) {
    this.gitdir = gitdir;
  }

  /** The app's repository under reposDir, created bare on first use. */
  static async open(reposDir: string, app: string): Promise<AppRepository> {
    const gitdir = join(reposDir, `${app}.git`);
    if (!fs.existsSync(join(gitdir, 'HEAD'))) {
      await mkdir(gitdir, { recursive: true });
      await git.init({ fs, gitdir, bare: true, defaultBranch: 'main' });
    }
    await mkdir(join(gitdir, 'objects', 'pack'), { recursive: true });
    return new AppRepository(gitdir);
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
    const dir = join(this.gitdir, 'objects', 'incoming');
    await mkdir(dir, { recursive: true });
    return join(dir, `incoming-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}.pack`);
  }

  /**
   * Indexes a received pack in quarantine, moves it into the repository and checks that
   * every tip is connected (its commits, trees and blobs all present). A pack that fails
   * any check is removed again and PackRejected says why.
   */
  async admitPack(packFile: string, tips: readonly string[]): Promise<AdmittedPack | undefined> {
    const size = (await stat(packFile)).size;
    if (size === 0) {
      await rm(packFile, { force: true });
      await this.#checkConnected(tips, new Set());
      return undefined;
    }
    const header = Buffer.alloc(12);
    const handle = await open(packFile, 'r');
    const trailer = Buffer.alloc(20);
    try {
      await handle.read(header, 0, 12, 0);
      if (size >= 32) await handle.read(trailer, 0, 20, size - 20);
    } finally {
      await handle.close();
    }
    if (header.toString('latin1', 0, 4) !== 'PACK' || size < 32) {
      await rm(packFile, { force: true });
      throw new PackRejected('the data after the commands is not a git pack');
    }
    let oids: string[];
    try {
      ({ oids } = await git.indexPack({ fs, dir: dirname(packFile), gitdir: this.gitdir, filepath: packFile.slice(dirname(packFile).length + 1) }));
    } catch (error) {
      await rm(packFile, { force: true });
      await rm(packFile.replace(/\.pack$/, '.idx'), { force: true });
      throw new PackRejected(`the pack is damaged: ${(error as Error).message}`);
    }
    const name = `pack-${trailer.toString('hex')}`;
    const packPath = join(this.gitdir, 'objects', 'pack', `${name}.pack`);
    const indexPath = join(this.gitdir, 'objects', 'pack', `${name}.idx`);
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
      await this.#checkConnected(tips, new Set(oids));
    } catch (error) {
      await admitted.remove();
      throw error;
    }
    return admitted;
  }

  /** Walks from the tips through what the pack brought; what it did not bring must already be here. */
  async #checkConnected(tips: readonly string[], inPack: ReadonlySet<string>): Promise<void> {
    const cache = {};
    const seen = new Set<string>();
    const stack: { oid: string; type: string }[] = tips.map((oid) => ({ oid, type: 'commit' }));
    for (let item = stack.pop(); item; item = stack.pop()) {
      if (seen.has(item.oid)) continue;
      seen.add(item.oid);
      if (!inPack.has(item.oid)) {
        // Already in the repository: complete, since refs only ever point to complete commits.
        try {
          await git.readObject({ fs, gitdir: this.gitdir, oid: item.oid, format: 'deflated', cache });
        } catch {
          throw new PackRejected(`${item.type} ${item.oid} is missing: the pack is incomplete (a shallow or thin push?)`);
        }
        continue;
      }
      if (item.type === 'commit') {
        const { commit } = await git.readCommit({ fs, gitdir: this.gitdir, oid: item.oid, cache }).catch(() => {
          throw new PackRejected(`${item?.oid} is not a commit`);
        });
        stack.push({ oid: commit.tree, type: 'tree' });
        for (const parent of commit.parent) stack.push({ oid: parent, type: 'commit' });
      } else if (item.type === 'tree') {
        const { tree } = await git.readTree({ fs, gitdir: this.gitdir, oid: item.oid, cache });
        for (const entry of tree) if (entry.mode !== '160000') stack.push({ oid: entry.oid, type: entry.type });
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
      return;
    }
    await mkdir(dirname(file), { recursive: true });
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
      for (const entry of tree) {
        if (entry.path === '.' || entry.path === '..' || entry.path.includes('/') || entry.path.toLowerCase() === '.git') {
          throw new PackRejected(`the tree holds an entry named ${JSON.stringify(entry.path)}, which git itself refuses to check out`);
        }
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
