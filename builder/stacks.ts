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

/** The JDK stack image of one major version: its JDK and Maven. */
export const jdkStackImage = (major: number) => `docker.io/library/maven:3.9-eclipse-temurin-${major}`;

/** The JDKs this machine has a stack for. */
export async function listJdkStacks(): Promise<JdkLine[]> {
  const listed = await run('podman', ['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', 'reference=docker.io/library/maven'], { env: podmanEnv(process.env), maxBuffer: 1024 * 1024 }).catch(() => undefined);
  const lines = new Map<number, JdkLine>();
  for (const name of (listed?.stdout ?? '').split('\n')) {
    const major = /^docker\.io\/library\/maven:3\.9-eclipse-temurin-(\d{1,3})$/.exec(name)?.[1];
    if (major !== undefined) lines.set(Number(major), { major: Number(major), image: name });
  }
  return [...lines.values()];
}
