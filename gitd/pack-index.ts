/**
 * The CPU-heavy part of admitting a pack: indexing it (isomorphic-git's indexPack) and
 * checking that its objects name only objects that exist. It runs in a worker thread
 * (pack-indexer.ts), off the event loop that serves every app's traffic.
 */
import * as fs from 'node:fs';
import { basename, dirname } from 'node:path';
import git, { type CommitObject, type TagObject, type TreeObject } from 'isomorphic-git';

/** A pack that is not admitted; `cause` is the catalogue error to show when it is more than a bad pack. */
export class PackRejected extends Error {}

/** Why git would refuse to check out a tree entry of this name, or undefined. */
export function entryNameProblem(name: string, siblings: ReadonlySet<string>): string | undefined {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0') || name.toLowerCase() === '.git') {
    return `holds an entry named ${JSON.stringify(name)}, which git itself refuses to check out`;
  }
  // Two entries of one name (a symlink "a" and a folder "a") would write through the symlink.
  if (siblings.has(name)) return `holds two entries named ${JSON.stringify(name)}`;
  return undefined;
}

/** Whether oid is in the pack or in the repository; `known` remembers those found in the repository. */
export function objectExists(gitdir: string, oid: string, inPack: ReadonlySet<string>, known: Set<string>, cache: object): Promise<boolean> {
  if (inPack.has(oid) || known.has(oid)) return Promise.resolve(true);
  return git.readObject({ fs, gitdir, oid, format: 'deflated', cache }).then(
    () => {
      known.add(oid);
      return true;
    },
    () => false,
  );
}

/** Writes packFile's index next to it; resolves with the pack's object ids. A pack that cannot be indexed is PackRejected. */
export async function indexPackFile(gitdir: string, packFile: string): Promise<string[]> {
  try {
    return (await git.indexPack({ fs, dir: dirname(packFile), gitdir, filepath: basename(packFile) })).oids;
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new PackRejected(`the pack cannot be indexed${code ? ` (${code})` : ''}: ${(error as Error).message.slice(0, 160)}`);
  }
}

/** Every object of the pack (now in gitdir) names only objects that exist, and trees hold only names git can check out. */
export async function checkClosed(gitdir: string, oids: readonly string[], inPack: ReadonlySet<string>): Promise<void> {
  const cache = {};
  const known = new Set<string>();
  const need = async (oid: string, what: string, from: string) => {
    if (!(await objectExists(gitdir, oid, inPack, known, cache))) {
      throw new PackRejected(`${what} ${oid} named by ${from} is missing: the pack is incomplete (a shallow or thin push?)`);
    }
  };
  for (const oid of oids) {
    let read: Awaited<ReturnType<typeof git.readObject>>;
    try {
      read = await git.readObject({ fs, gitdir, oid, format: 'parsed', cache });
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
