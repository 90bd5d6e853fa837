/**
 * Dormant's own image, for the in-cluster install (`kubectl apply -k manifests/`): the
 * product's sources and its production node_modules as one layer at /app on the
 * bootstrapped node:20-slim, written by builder/'s image writer straight into a registry
 * (no Docker daemon, no Dockerfile). Its entrypoint is `node /app/bin/dormant.js`.
 *
 * Usage: node --import tsx hack/image/build.ts [REGISTRY]   (127.0.0.1:5000 by default)
 * Prints the image by digest on stdout, progress on stderr.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ensureInRegistry, layerImage, nodeStack, RegistryClient } from '../../builder/index.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../..', import.meta.url));
const registryHost = process.argv[2] ?? '127.0.0.1:5000';
/** What the product runs from; tests, benchmarks, docs and hack/ stay out of the image. */
/** Every top-level folder but these is the product's: a folder added later is in the image without a change here. */
const notProduct = new Set(['test', 'loadtests', 'hack', 'docs', 'manifests', 'node_modules', 'dist']);
const productFolders = readdirSync(repo, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.') && !notProduct.has(entry.name))
  .map((entry) => entry.name);
const productFiles = ['package.json', 'package-lock.json', 'tsconfig.json', 'LICENSE'];
const isTest = (path: string) => /\.(test|cluster)\.ts$/.test(path) || /(^|\/)test-support\.ts$/.test(path);

const started = performance.now();
const work = await mkdtemp(join(tmpdir(), 'dormant-image-'));
try {
  const staging = join(work, 'app');
  // Tracked and new files of the working tree (what a test of this tree must run), not ignored ones.
  const { stdout: listed } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', ...productFolders, ...productFiles], { cwd: repo, maxBuffer: 64 << 20 });
  const files = listed.split('\0').filter((path) => path !== '' && !isTest(path));
  for (const path of files) {
    await mkdir(dirname(join(staging, path)), { recursive: true });
    await cp(join(repo, path), join(staging, path), { force: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error; // deleted in the working tree but still in the index
    });
  }
  // The production dependencies, as npm resolved them for this checkout (no network needed).
  const { stdout: parseable } = await run('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: repo, maxBuffer: 64 << 20 }).catch((error: { stdout?: string; stderr?: string }) => {
    // npm ls exits 1 on extraneous packages too, whose list is still right; a missing or invalid one would leave the image without it.
    if (/\b(missing|invalid)\b/.test(error.stderr ?? '')) throw new Error(`npm ls: the production dependencies are not installed as package-lock.json says; run npm ci first\n${error.stderr}`);
    return { stdout: error.stdout ?? '' };
  });
  const packages = parseable
    .split('\n')
    .map((line) => relative(repo, line.trim()))
    .filter((path) => path.startsWith('node_modules/'))
    .sort();
  let copied = 0;
  for (const path of packages) {
    // A nested package came along with its parent.
    if (packages.some((parent) => parent !== path && path.startsWith(`${parent}/`))) continue;
    await cp(join(repo, path), join(staging, path), { recursive: true, verbatimSymlinks: true });
    copied++;
  }
  // `dormant` on the PATH, for kubectl exec.
  await symlink('dormant.js', join(staging, 'bin', 'dormant'));
  console.error(`dormant image: ${files.length} source files, ${copied} packages (${packages.length} with nested ones)`);

  const registry = new RegistryClient(registryHost);
  await ensureInRegistry({ registry, localImage: 'docker.io/library/node:20-slim', repository: 'library/node', tag: '20-slim', onLine: (line) => console.error(line) });
  // The stack gitd in a pod layers detected Node apps onto, by its public name (the pod has no podman to push it).
  await ensureInRegistry({ registry, localImage: nodeStack, repository: `library/${nodeStack.replace(/^docker\.io\/library\//, '')}`.replace(/:.*$/, ''), tag: nodeStack.replace(/^.*:/, ''), onLine: (line) => console.error(line) });
  const image = await layerImage({
    registry,
    base: { repository: 'library/node', tag: '20-slim' },
    repository: 'dormant/dormant',
    tag: 'dev',
    layerDir: staging,
    command: ['node', '/app/bin/dormant.js'],
    env: { NODE_ENV: 'production', PATH: '/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
    now: new Date(0),
  });
  console.error(`dormant image: ${image.reference} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  process.stdout.write(`${image.reference}\n`);
} finally {
  await rm(work, { recursive: true, force: true });
}
