/**
 * Go toolchains, fetched from the Go module proxy: Go's distributions are published there
 * as the modules `golang.org/toolchain@v0.0.1-goX.Y.Z.linux-amd64` (what `GOTOOLCHAIN`
 * downloads). Each is fetched once, its `h1:` hash checked against the Go checksum
 * database's record (read through the proxy, as the go command does where sum.golang.org
 * is not reachable itself), and unpacked into `~/.cache/dormant/runtimes/go/VERSION`,
 * which Go builds see read-only at /opt/go. Fetched with Dormant's rights, never a
 * tenant's: the tenant only names a version.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { buildErrors } from './errors.js';
import { toolchainVersions } from './go-version.js';
import { unzipInto } from './zip.js';

/** Where a toolchain is seen over the stack. */
export const goToolchainFolder = '/opt/go';

/** A toolchain zip is about 75 MB, about 250 MB and 15000 files unpacked. */
const maxZipBytes = 256 * 1024 * 1024;
const maxUnpackedBytes = 1024 * 1024 * 1024;
const maxEntries = 50_000;

/** Go's name for this machine. */
const goArch: Readonly<Record<string, string>> = { x64: 'amd64', arm64: 'arm64' };

/** Dormant's cache of fetched toolchains: ~/.cache/dormant/runtimes/go (DORMANT_CACHE moves it). */
export function defaultGoFolder(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return join(env.DORMANT_CACHE ?? join(homedir(), '.cache', 'dormant'), 'runtimes', 'go');
}

export interface GoToolchainsOptions {
  /** The module proxy: default the first of GOPROXY that is a URL, else https://proxy.golang.org. */
  readonly proxy?: string;
  /** How long the list of toolchains is reused, in ms (default one hour). */
  readonly listTtlMs?: number;
  readonly now?: () => number;
  /** How many toolchains this machine keeps (default 12): each is about 250 MB, and tenants choose which. */
  readonly maxReleases?: number;
}

export class GoToolchains {
  readonly #folder: string;
  readonly #proxy: string;
  readonly #platform: string;
  readonly #listTtlMs: number;
  readonly #now: () => number;
  readonly #maxReleases: number;
  #fetching = 0;
  #list: { readonly at: number; readonly versions: Promise<string[]> } | undefined;
  readonly #making = new Map<string, Promise<string>>();

  constructor(folder: string, options: GoToolchainsOptions = {}) {
    this.#folder = folder;
    // Only an https proxy of GOPROXY's: the toolchain's hash is read from the same proxy.
    const fromEnv = (process.env.GOPROXY ?? '').split(/[,|]/).find((entry) => /^https:\/\//.test(entry));
    this.#proxy = (options.proxy ?? fromEnv ?? 'https://proxy.golang.org').replace(/\/+$/, '');
    this.#platform = `linux-${goArch[process.arch] ?? process.arch}`;
    this.#listTtlMs = options.listTtlMs ?? 60 * 60_000;
    this.#now = options.now ?? Date.now;
    this.#maxReleases = options.maxReleases ?? 12;
  }

  /** The Go versions the proxy has for this machine (without `go`). */
  releases(): Promise<string[]> {
    if (this.#list && this.#now() - this.#list.at < this.#listTtlMs) return this.#list.versions;
    const versions = (async () => {
      const answer = await fetch(`${this.#proxy}/golang.org/toolchain/@v/list`, { signal: AbortSignal.timeout(60_000) });
      if (!answer.ok) throw new Error(`${this.#proxy}/golang.org/toolchain/@v/list answered ${answer.status}`);
      return toolchainVersions(await answer.text(), this.#platform);
    })();
    this.#list = { at: this.#now(), versions };
    versions.catch(() => {
      this.#list = undefined;
    });
    return versions;
  }

  /** The folder of that toolchain (bin/go), fetched and unpacked now unless it was before (onFetch is called then). Throws BUILD_GO_UNAVAILABLE. */
  ensure(version: string, onFetch?: () => void): Promise<string> {
    if (!/^\d+\.\d+(\.\d+)?$/.test(version)) return Promise.reject(new Error(`not a Go version: ${version}`));
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
    const kept = readdirSync(this.#folder).filter((name) => /^\d+\.\d+/.test(name)).length + this.#fetching;
    if (kept >= this.#maxReleases) {
      throw buildErrors.goUnavailable({ reason: `Go ${version} is not on this machine, which keeps at most ${this.#maxReleases} toolchains and has them all; its operator can remove those no app asks for any more from Dormant's runtimes folder` });
    }
    this.#fetching += 1;
    try {
      onFetch?.();
      return await this.#fetch(version, folder);
    } catch (error) {
      throw buildErrors.goUnavailable({ reason: `Go ${version} cannot be fetched from ${this.#proxy} (${(error as Error).message}); push again when the proxy answers` });
    } finally {
      this.#fetching -= 1;
    }
  }

  async #fetch(version: string, folder: string): Promise<string> {
    const moduleVersion = `v0.0.1-go${version}.${this.#platform}`;
    const recorded = await this.#recordedHash(moduleVersion);
    const answer = await fetch(`${this.#proxy}/golang.org/toolchain/@v/${moduleVersion}.zip`, { signal: AbortSignal.timeout(10 * 60_000) });
    if (!answer.ok || !answer.body) throw new Error(`${moduleVersion}.zip answered ${answer.status}`);
    const chunks: Buffer[] = [];
    let received = 0;
    for await (const chunk of answer.body) {
      received += chunk.length;
      if (received > maxZipBytes) throw new Error(`the toolchain's zip is more than ${maxZipBytes} bytes`);
      chunks.push(Buffer.from(chunk));
    }
    const staging = join(this.#folder, `.fetch-${randomBytes(4).toString('hex')}`);
    try {
      await mkdir(staging, { recursive: true, mode: 0o755 });
      const hash = await unzipInto(Buffer.concat(chunks), staging, { prefix: `golang.org/toolchain@${moduleVersion}/`, maxEntries, maxBytes: maxUnpackedBytes });
      if (hash !== recorded) throw new Error(`its hash ${hash} is not the checksum database's ${recorded}`);
      if (!existsSync(join(staging, 'bin', 'go'))) throw new Error('the toolchain has no bin/go');
      await writeFile(join(staging, '.complete'), `${version}\n`);
      await chmod(staging, 0o755);
      await rename(staging, folder).catch((error: NodeJS.ErrnoException) => {
        // Fetched meanwhile by another Dormant of this machine.
        if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      });
      return folder;
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  /** The module's h1: hash as the checksum database records it, read through the proxy. */
  async #recordedHash(moduleVersion: string): Promise<string> {
    const url = `${this.#proxy}/sumdb/sum.golang.org/lookup/golang.org/toolchain@${moduleVersion}`;
    const answer = await fetch(url, { signal: AbortSignal.timeout(60_000) });
    if (!answer.ok) throw new Error(`the checksum database (${url}) answered ${answer.status}`);
    const text = (await answer.text()).slice(0, 64 * 1024);
    const record = new RegExp(`^golang\\.org/toolchain ${moduleVersion.replaceAll('.', '\\.')} (h1:[A-Za-z0-9+/=]{44})$`, 'm').exec(text);
    if (!record?.[1]) throw new Error('the checksum database has no record of it');
    return record[1];
  }
}
