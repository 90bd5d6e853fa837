/**
 * uv, the tool Python builds install dependencies with, fetched from the Python package
 * index: its wheel (`uv-VERSION-py3-none-manylinux…x86_64.whl`) carries the static `uv`
 * binary. Fetched once per version, checked against the index's sha256, kept at
 * `~/.cache/dormant/tools/uv-VERSION/uv`, which Python builds see read-only at /opt/uv.
 * Fetched with Dormant's rights, never a tenant's: the version is Dormant's own.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { buildErrors } from './errors.js';
import { zipEntry } from './zip.js';

/** The uv every Python build uses: builds are repeatable, and a new uv is a change of Dormant's. */
export const uvVersion = '0.13.10';

/** Where uv is seen over a Python stack. */
export const uvToolFolder = '/opt/uv';

/** The most the wheel may weigh (uv's are about 18 MB) and the binary inside it (about 45 MB). */
const maxWheelBytes = 64 * 1024 * 1024;
const maxBinaryBytes = 160 * 1024 * 1024;

/** Dormant's cache of fetched tools: ~/.cache/dormant/tools (DORMANT_CACHE moves it). */
export function defaultToolsFolder(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return join(env.DORMANT_CACHE ?? join(homedir(), '.cache', 'dormant'), 'tools');
}

/** The machine's name in wheel file names. */
const wheelArch: Readonly<Record<string, string>> = { x64: 'x86_64', arm64: 'aarch64' };

export interface UvToolOptions {
  /** A simple-API index (PEP 691 JSON): default PIP_INDEX_URL, else https://pypi.org/simple. */
  readonly index?: string;
  readonly version?: string;
}

interface SimpleIndexFile {
  readonly filename?: unknown;
  readonly url?: unknown;
  readonly hashes?: { readonly sha256?: unknown };
}

export class UvTool {
  readonly #folder: string;
  readonly #index: string;
  readonly version: string;
  #making: Promise<string> | undefined;

  constructor(toolsFolder: string, options: UvToolOptions = {}) {
    this.version = options.version ?? uvVersion;
    this.#folder = join(toolsFolder, `uv-${this.version}`);
    this.#index = (options.index ?? process.env.PIP_INDEX_URL ?? 'https://pypi.org/simple').replace(/\/+$/, '');
  }

  /** The folder holding `uv`, fetched now unless it was before (onFetch is called then). Throws BUILD_PYTHON_UNAVAILABLE. */
  ensure(onFetch?: () => void): Promise<string> {
    if (existsSync(join(this.#folder, 'uv'))) return Promise.resolve(this.#folder);
    this.#making ??= this.#fetch(onFetch).catch((error: unknown) => {
      this.#making = undefined;
      throw buildErrors.pythonUnavailable({ reason: `uv ${this.version} cannot be fetched from ${this.#index} (${(error as Error).message}); push again when the index answers` });
    });
    return this.#making;
  }

  async #fetch(onFetch: (() => void) | undefined): Promise<string> {
    const arch = wheelArch[process.arch];
    if (arch === undefined) throw new Error(`no uv wheel is published for ${process.arch}`);
    onFetch?.();
    const listing = await fetch(`${this.#index}/uv/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' }, signal: AbortSignal.timeout(60_000) });
    if (!listing.ok) throw new Error(`${this.#index}/uv/ answered ${listing.status}`);
    const files = ((await listing.json()) as { files?: SimpleIndexFile[] }).files ?? [];
    const prefix = `uv-${this.version}-py3-none-manylinux_2_17_${arch}.`;
    const file = files.find((entry) => typeof entry.filename === 'string' && entry.filename.startsWith(prefix) && entry.filename.endsWith('.whl') && !entry.filename.includes('musllinux'));
    const sha256 = file?.hashes?.sha256;
    if (typeof file?.url !== 'string' || typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`the index lists no ${prefix}…whl with a sha256`);
    const answer = await fetch(new URL(file.url, `${this.#index}/uv/`), { signal: AbortSignal.timeout(10 * 60_000) });
    if (!answer.ok || !answer.body) throw new Error(`${file.url} answered ${answer.status}`);
    const chunks: Buffer[] = [];
    let received = 0;
    for await (const chunk of answer.body) {
      received += chunk.length;
      if (received > maxWheelBytes) throw new Error(`the wheel is more than ${maxWheelBytes} bytes`);
      chunks.push(Buffer.from(chunk));
    }
    const wheel = Buffer.concat(chunks);
    if (createHash('sha256').update(wheel).digest('hex') !== sha256) throw new Error("the wheel does not match the index's sha256");
    const binary = await zipEntry(wheel, `uv-${this.version}.data/scripts/uv`, maxBinaryBytes);
    const staging = `${this.#folder}.fetch-${randomBytes(4).toString('hex')}`;
    try {
      await mkdir(staging, { recursive: true, mode: 0o755 });
      await writeFile(join(staging, 'uv'), binary, { mode: 0o755 });
      await chmod(staging, 0o755);
      await rename(staging, this.#folder).catch((error: NodeJS.ErrnoException) => {
        // Fetched meanwhile by another Dormant of this machine.
        if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    return this.#folder;
  }
}
