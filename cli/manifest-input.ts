/**
 * The manifests given to apply and diff with -f: read with a size cap per file (counted while
 * reading, so /dev/zero or an endless stdin stops at the cap), parsed as YAML or JSON with a
 * cap on alias expansion (a billion-laughs file is refused, not expanded), every document
 * checked before any object is touched.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { ObjectInput } from '../runtime/index.js';
import type { Flags } from './command.js';
import { flagString } from './command.js';
import { cliErrors } from './errors.js';
import type { Io } from './io.js';

export interface ManifestLimits {
  /** Bytes one file (or standard input) may hold. */
  readonly maxFileBytes: number;
  /** yaml's maxAliasCount: how many alias expansions one document may make. */
  readonly maxAliases: number;
}

export const defaultManifestLimits: ManifestLimits = { maxFileBytes: 1024 * 1024, maxAliases: 100 };

/** The flags apply and diff share. */
export const manifestOptions = {
  filename: { type: 'string', short: 'f' },
  'max-file-mb': { type: 'string' },
  'max-yaml-aliases': { type: 'string' },
} as const;

export interface Manifest {
  /** The file as the user named it ("standard input" for -). */
  readonly source: string;
  /** 1-based, as the user counts documents in a file. */
  readonly document: number;
  readonly object: ObjectInput;
}

/** The limits from the flags, else the environment, else the defaults. */
export function manifestLimits(flags: Flags, env: Io['env'], usage: string): ManifestLimits {
  const pick = (flag: string, variable: string): { text: string; from: string } | undefined => {
    const fromFlag = flagString(flags, flag);
    if (fromFlag !== undefined) return { text: fromFlag, from: `--${flag}` };
    const fromEnv = env[variable];
    return fromEnv === undefined || fromEnv === '' ? undefined : { text: fromEnv, from: variable };
  };
  const mb = pick('max-file-mb', 'DORMANT_MAX_FILE_MB');
  const aliases = pick('max-yaml-aliases', 'DORMANT_MAX_YAML_ALIASES');
  let maxFileBytes = defaultManifestLimits.maxFileBytes;
  if (mb) {
    const value = Number(mb.text);
    if (!Number.isFinite(value) || value <= 0 || value > 1024) throw cliErrors.usage({ problem: `${mb.from} must be a number of MiB above 0 and at most 1024, got "${mb.text}"`, usage });
    maxFileBytes = Math.floor(value * 1024 * 1024);
  }
  let maxAliases = defaultManifestLimits.maxAliases;
  if (aliases) {
    const value = Number(aliases.text);
    if (!Number.isInteger(value) || value < 0 || value > 100_000) throw cliErrors.usage({ problem: `${aliases.from} must be a whole number from 0 to 100000, got "${aliases.text}"`, usage });
    maxAliases = value;
  }
  return { maxFileBytes, maxAliases };
}

const sizeText = (bytes: number): string => (bytes % (1024 * 1024) === 0 ? `${bytes / 1024 / 1024} MiB` : `${bytes} bytes`);

/** A file, or the .yaml, .yml and .json files of a folder (like kubectl apply -f DIR). */
async function manifestFiles(path: string, source: string): Promise<string[]> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw cliErrors.readInput({ source, reason: error.code === 'ENOENT' ? 'no such file or folder' : error.message }, { cause: error });
  });
  if (!info.isDirectory()) return [path];
  const files = (await readdir(path)).filter((name) => /\.(ya?ml|json)$/.test(name)).sort();
  if (files.length === 0) throw cliErrors.readInput({ source, reason: 'the folder has no .yaml, .yml or .json file' });
  return files.map((name) => join(path, name));
}

/** The text of a stream, refused as soon as it passes maxBytes (never held whole beyond that). */
async function readCapped(stream: AsyncIterable<Buffer | string>, source: string, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    total += bytes.length;
    if (total > maxBytes) throw cliErrors.inputTooLarge({ source, limit: sizeText(maxBytes) });
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function readFileCapped(path: string, source: string, maxBytes: number): Promise<string> {
  // The stream ends early when the cap is passed (the loop throws, which destroys the stream).
  const stream = createReadStream(path, { highWaterMark: 64 * 1024 });
  try {
    return await readCapped(stream, source, maxBytes);
  } catch (error) {
    const failure = error as NodeJS.ErrnoException;
    if (typeof failure.code === 'string' && failure.code.startsWith('E')) {
      throw cliErrors.readInput({ source, reason: failure.code === 'ENOENT' ? 'no such file' : failure.message }, { cause: error });
    }
    throw error;
  } finally {
    stream.destroy();
  }
}

/** yaml's own words when an alias expands too much, or at all with a limit of 0 (nodes/Alias.js). */
const aliasLimitMessage = /alias count|alias resolution is disabled/i;

/** Parses every document of one text; null documents (an empty one, a trailing ---) are skipped. */
export function parseManifests(text: string, source: string, limits: Pick<ManifestLimits, 'maxAliases'>): Manifest[] {
  const manifests: Manifest[] = [];
  let documents: ReturnType<typeof parseAllDocuments>;
  try {
    documents = parseAllDocuments(text);
  } catch (error) {
    // A parser limit (a stack overflow on absurd nesting): said as bad input, not a crash.
    throw cliErrors.badInput({ source, reason: `is not valid YAML: ${(error as Error).message.split('\n')[0]}` }, { cause: error });
  }
  for (const [index, document] of documents.entries()) {
    if (document.errors.length > 0) {
      throw cliErrors.badInput({ source, reason: `document ${index + 1} is not valid YAML: ${document.errors[0]?.message.split('\n')[0]}` });
    }
    let value: unknown;
    try {
      value = document.toJS({ maxAliasCount: limits.maxAliases });
    } catch (error) {
      if (aliasLimitMessage.test((error as Error).message)) throw cliErrors.yamlAliases({ source, document: index + 1, limit: limits.maxAliases }, { cause: error });
      throw cliErrors.badInput({ source, reason: `document ${index + 1} cannot be read: ${(error as Error).message.split('\n')[0]}` }, { cause: error });
    }
    if (value !== null && value !== undefined) manifests.push({ source, document: index + 1, object: value as ObjectInput });
  }
  return manifests;
}

/** Every document of -f SOURCE (a file, a folder, or - for standard input), all read before any is used. */
export async function readManifests(io: Io, source: string, limits: ManifestLimits): Promise<Manifest[]> {
  const manifests: Manifest[] = [];
  for (const file of source === '-' ? ['-'] : await manifestFiles(resolve(io.cwd, source), source)) {
    const label = file === '-' ? 'standard input' : file;
    const text = file === '-' ? await readCapped(io.stdin, label, limits.maxFileBytes) : await readFileCapped(file, label, limits.maxFileBytes);
    manifests.push(...parseManifests(text, label, limits));
  }
  return manifests;
}
