import { randomBytes } from 'node:crypto';
import { link, unlink, writeFile } from 'node:fs/promises';

/**
 * Creates `path` holding `content` if no such file exists, atomically: the content is
 * written to a private file first and hard-linked into place, so the file is never seen
 * half-written, even after a kill -9. Returns false when the file already exists.
 */
export async function createExclusive(path: string, content: string): Promise<boolean> {
  const claim = `${path}.${process.pid}-${randomBytes(6).toString('hex')}`;
  await writeFile(claim, content, { mode: 0o600 });
  try {
    await link(claim, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(claim).catch(() => {});
  }
}
