/**
 * The Python stacks on this machine: the `python:3.X-slim` images (hack/python-images.sh
 * makes them from Debian's interpreters where no registry is reachable), each with its
 * full version (the image's PYTHON_VERSION), read from podman.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { PythonLine } from './python-version.js';
import { podmanEnv } from './run-build.js';

const run = promisify(execFile);

/** The stack image of one minor line. */
export const pythonStackImage = (minor: string) => `docker.io/library/python:${minor}-slim`;

/** The lines this machine has, newest first; none when podman has none (or no podman). */
export async function listPythonStacks(): Promise<PythonLine[]> {
  const env = podmanEnv(process.env);
  const listed = await run('podman', ['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', 'reference=docker.io/library/python'], { env, maxBuffer: 1024 * 1024 }).catch(() => undefined);
  const images = [...new Set((listed?.stdout ?? '').split('\n').filter((name) => /^docker\.io\/library\/python:3\.\d+-slim$/.test(name)))];
  if (images.length === 0) return [];
  const inspected = await run('podman', ['image', 'inspect', '--format', 'json', ...images], { env, maxBuffer: 16 * 1024 * 1024 }).catch(() => undefined);
  const parsed = JSON.parse(inspected?.stdout ?? '[]') as { Config?: { Env?: unknown } }[];
  const lines: PythonLine[] = [];
  for (const [index, image] of images.entries()) {
    const env = parsed[index]?.Config?.Env;
    const version = Array.isArray(env) ? env.find((entry): entry is string => typeof entry === 'string' && entry.startsWith('PYTHON_VERSION='))?.slice('PYTHON_VERSION='.length) : undefined;
    // The image's version must be of its tag's line: an image tagged by hand otherwise would misstate what runs.
    if (version?.startsWith(`${image.slice(image.indexOf(':') + 1, -'-slim'.length)}.`)) lines.push({ version, image });
  }
  return lines;
}
