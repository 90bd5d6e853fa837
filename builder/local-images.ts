// The images on this machine that Dormant made: the bootstrapped bases and the apps'
// Dockerfile builds (localhost/dormant/APP:REVISION), read from podman.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { buildErrors } from './errors.js';
import { podmanEnv } from './run-build.js';

const run = promisify(execFile);

/** The label a Dockerfile build carries: which state folder (which Dormant) made it, so one Dormant's gc leaves another's images alone. */
export const stateLabel = 'dev.dormant.state';

/** The value of stateLabel for a state folder. */
export const stateLabelValue = (stateDir: string) => createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 16);

export interface LocalImage {
  readonly id: string;
  readonly name: string;
  readonly kind: 'base' | 'app';
  readonly app: string | undefined;
  readonly revision: string | undefined;
  /** stateLabel's value; absent on images built before it was set. */
  readonly state: string | undefined;
  readonly sizeBytes: number;
  readonly createdAt: string;
}

const hasPodman = () => existsSync('/usr/bin/podman') || existsSync('/usr/local/bin/podman');

export async function listLocalImages(): Promise<LocalImage[]> {
  if (!hasPodman()) throw buildErrors.noPodman({});
  // podman fails a listing now and then when another podman removes an image meanwhile: ask again.
  let stdout = '';
  for (let attempt = 0; ; attempt++) {
    try {
      stdout = (await run('podman', ['images', '--format', 'json'], { env: podmanEnv(process.env), maxBuffer: 16 * 1024 * 1024 })).stdout;
      break;
    } catch (error) {
      if (attempt >= 4) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  const raw = JSON.parse(stdout || '[]') as { Id: string; Names?: string[] | null; Size: number; CreatedAt: string; Labels?: Record<string, string> | null }[];
  const images: LocalImage[] = [];
  // podman lists an image once per name, each row with every name: take each image once.
  const seen = new Set<string>();
  for (const image of raw) {
    if (seen.has(image.Id)) continue;
    seen.add(image.Id);
    for (const name of image.Names ?? []) {
      const app = /^localhost\/dormant\/([^:]+):(.+)$/.exec(name);
      const base = name.startsWith('docker.io/library/') && image.Labels?.['dev.dormant.bootstrap'] !== undefined;
      if (!app && !base) continue;
      images.push({
        id: image.Id.slice(0, 12),
        name: app ? name : name.replace(/^docker\.io\/library\//, ''),
        kind: app ? 'app' : 'base',
        app: app?.[1],
        revision: app?.[2],
        state: image.Labels?.[stateLabel],
        sizeBytes: image.Size,
        createdAt: image.CreatedAt,
      });
    }
  }
  return images.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
}

/** A local image's id (64 hex digits). */
export async function localImageId(image: string): Promise<string> {
  const { stdout } = await run('podman', ['image', 'inspect', '--format', '{{.Id}}', image], { env: podmanEnv(process.env), maxBuffer: 1024 * 1024 });
  const id = stdout.trim();
  if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`podman gave no image id for ${image}`);
  return id;
}

/** Gives an image another name (a release of an earlier build runs its image under its own tag). */
export async function tagLocalImage(image: string, name: string): Promise<void> {
  await run('podman', ['tag', image, name], { env: podmanEnv(process.env) });
}

/** Removes one name of an image (the image goes with its last name). */
export async function removeLocalImage(name: string): Promise<void> {
  await run('podman', ['rmi', name], { env: podmanEnv(process.env) });
}
