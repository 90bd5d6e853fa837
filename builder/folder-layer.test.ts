// The release folder as an image layer: who owns its files, and that equal folders give equal layers.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, it } from 'node:test';
import { Parser } from 'tar';
import { detectedAppUser, folderLayer } from './oci-image.js';

const made: string[] = [];
after(() => Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true }))));

async function release(stamp: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dormant-layer-'));
  made.push(dir);
  await mkdir(join(dir, 'node_modules', 'a-package-with-a-rather-long-name', 'and', 'a', 'deep', 'folder', 'that', 'needs', 'a', 'pax', 'header'), { recursive: true });
  await writeFile(join(dir, 'server.js'), 'x', { mode: 0o666 });
  await utimes(join(dir, 'server.js'), stamp, stamp);
  return dir;
}

async function entries(gzipped: Buffer): Promise<{ path: string; uid: number | undefined; mode: number | undefined }[]> {
  const seen: { path: string; uid: number | undefined; mode: number | undefined }[] = [];
  const parser = new Parser({ onReadEntry: (entry) => {
    seen.push({ path: entry.path, uid: entry.uid, mode: entry.mode });
    entry.resume();
  } });
  await new Promise<void>((resolve, reject) => {
    parser.on('end', resolve);
    parser.on('error', reject);
    Readable.from([gzipped]).pipe(parser);
  });
  return seen;
}

it("a detected app's layer is owned by the user its image runs as, never group- or world-writable, and the same for equal folders", async () => {
  const one = await folderLayer(await release(1000), 'app', detectedAppUser);
  const other = await folderLayer(await release(2000), 'app', detectedAppUser);
  assert.equal(one.diffId, other.diffId, 'the times and inodes of this machine are not in the layer');
  const listed = await entries(one.gzipped);
  assert.ok(listed.length >= 3);
  for (const entry of listed) assert.equal(entry.uid, 1000, `${entry.path} is the app user's`);
  const server = listed.find((entry) => entry.path === 'app/server.js');
  assert.equal((server?.mode ?? 0) & 0o777, 0o644, 'not writable by others');
  const asRoot = await entries((await folderLayer(await release(1000))).gzipped);
  for (const entry of asRoot) assert.equal(entry.uid ?? 0, 0, `${entry.path} is root's without an owner`);
});
