/**
 * The language stacks on this machine, read from podman: the `python:3.X-slim` images
 * (hack/python-images.sh makes them from Debian's interpreters where no registry is
 * reachable), each with its full version (the image's PYTHON_VERSION), and the
 * `maven:3.9-eclipse-temurin-N` images (hack/jdk-images.sh), a JDK and Maven each.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { JdkLine } from './detect-java.js';
import type { PythonLine } from './python-version.js';
import { podmanEnv } from './run-build.js';

const run = promisify(execFile);

/**
 * The images podman lists under a reference, asked again when podman fails (it does now and
 * then while another podman removes an image): a failing podman is an error, not "none".
 */
async function imageNames(reference: string): Promise<string[]> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const { stdout } = await run('podman', ['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', `reference=${reference}`], { env: podmanEnv(process.env), maxBuffer: 1024 * 1024 });
      return stdout.split('\n').filter((name) => name !== '');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      if (attempt >= 5) throw new Error(`podman cannot list the images (${(error as Error).message.split('\n')[0] ?? ''})`);
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

/** The stack image of one minor line. */
export const pythonStackImage = (minor: string) => `docker.io/library/python:${minor}-slim`;

/** The lines this machine has, newest first; none when podman has none (or no podman). */
export async function listPythonStacks(): Promise<PythonLine[]> {
  const env = podmanEnv(process.env);
  const images = [...new Set((await imageNames('docker.io/library/python')).filter((name) => /^docker\.io\/library\/python:3\.\d+-slim$/.test(name)))];
  if (images.length === 0) return [];
  const inspected = await run('podman', ['image', 'inspect', '--format', 'json', ...images], { env, maxBuffer: 16 * 1024 * 1024 }).catch(async () => run('podman', ['image', 'inspect', '--format', 'json', ...images], { env, maxBuffer: 16 * 1024 * 1024 }));
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

/** The JDK stack image of one major version: its JDK and Maven. */
export const jdkStackImage = (major: number) => `docker.io/library/maven:3.9-eclipse-temurin-${major}`;

/** The JDKs this machine has a stack for. */
export async function listJdkStacks(): Promise<JdkLine[]> {
  const lines = new Map<number, JdkLine>();
  for (const name of await imageNames('docker.io/library/maven')) {
    const major = /^docker\.io\/library\/maven:3\.9-eclipse-temurin-(\d{1,3})$/.exec(name)?.[1];
    if (major !== undefined) lines.set(Number(major), { major: Number(major), image: name });
  }
  return [...lines.values()];
}
