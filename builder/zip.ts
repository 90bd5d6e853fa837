/**
 * Reading zip archives that Dormant fetched from a registry (a uv wheel, a Go toolchain
 * module): one entry, or all of them into a folder, bounded in entries and bytes, no
 * entry written outside the folder.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import yauzl from 'yauzl';

function open(zip: Buffer): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(zip, { lazyEntries: true, validateEntrySizes: true, strictFileNames: true }, (error, archive) => (error || !archive ? reject(error ?? new Error('not a zip archive')) : resolve(archive)));
  });
}

function read(archive: yauzl.ZipFile, entry: yauzl.Entry): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    archive.openReadStream(entry, (error, stream) => {
      if (error || !stream) return reject(error ?? new Error(`cannot read ${entry.fileName}`));
      const parts: Buffer[] = [];
      stream.on('data', (part: Buffer) => parts.push(part));
      stream.on('error', reject);
      stream.on('end', () => resolve(Buffer.concat(parts)));
    });
  });
}

/** Calls each for every entry in order (a directory's too), until it has seen them all. */
async function forEachEntry(zip: Buffer, each: (archive: yauzl.ZipFile, entry: yauzl.Entry) => Promise<boolean | undefined>): Promise<void> {
  const archive = await open(zip);
  try {
    await new Promise<void>((resolve, reject) => {
      archive.on('error', reject);
      archive.on('end', resolve);
      archive.on('entry', (entry: yauzl.Entry) => {
        each(archive, entry).then((stop) => (stop ? resolve() : archive.readEntry()), reject);
      });
      archive.readEntry();
    });
  } finally {
    archive.close();
  }
}

/** One file of a zip archive in memory, at most maxBytes once inflated. */
export async function zipEntry(zip: Buffer, name: string, maxBytes: number): Promise<Buffer> {
  let found: Buffer | undefined;
  await forEachEntry(zip, async (archive, entry) => {
    if (entry.fileName !== name) return false;
    if (entry.uncompressedSize > maxBytes) throw new Error(`${name} is more than ${maxBytes} bytes`);
    found = await read(archive, entry);
    return true;
  });
  if (!found) throw new Error(`the archive has no ${name}`);
  return found;
}

export interface UnzipLimits {
  /** Every entry's name starts with it; it is taken off (`golang.org/toolchain@v0.0.1-go1.22.3.linux-amd64/`). */
  readonly prefix: string;
  readonly maxEntries: number;
  readonly maxBytes: number;
}

/**
 * Writes every file of the archive under into (executable where the archive says so) and
 * returns Go's `h1:` hash of the archive (golang.org/x/mod/sumdb/dirhash Hash1: the sha256
 * of the sorted "sha256  name" lines), which the Go checksum database records for a module.
 */
export async function unzipInto(zip: Buffer, into: string, limits: UnzipLimits): Promise<string> {
  const files: [name: string, sha256: string][] = [];
  let entries = 0;
  let bytes = 0;
  await forEachEntry(zip, async (archive, entry) => {
    entries += 1;
    if (entries > limits.maxEntries) throw new Error(`the archive has more than ${limits.maxEntries} entries`);
    const name = entry.fileName;
    // Folders are made as their files need them (module zips have no folder entries).
    if (name.endsWith('/')) return false;
    if (!name.startsWith(limits.prefix)) throw new Error(`${name} is outside ${limits.prefix}`);
    const relative = name.slice(limits.prefix.length);
    if (normalize(relative) !== relative || relative.startsWith('/') || relative.split('/').includes('..')) throw new Error(`${name} is not a plain path`);
    bytes += entry.uncompressedSize;
    if (bytes > limits.maxBytes) throw new Error(`the archive holds more than ${limits.maxBytes} bytes`);
    const content = await read(archive, entry);
    files.push([name, createHash('sha256').update(content).digest('hex')]);
    const target = join(into, relative);
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
    // Unix permissions in the upper half of the external attributes: executable or not, nothing else kept.
    const executable = ((entry.externalFileAttributes >>> 16) & 0o111) !== 0;
    await writeFile(target, content, { mode: executable ? 0o755 : 0o644, flag: 'wx' });
    return false;
  });
  // Sorted by name (Go sorts the names' bytes; they are ASCII here, so code units agree).
  files.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `h1:${createHash('sha256').update(files.map(([name, sha256]) => `${sha256}  ${name}\n`).join('')).digest('base64')}`;
}
