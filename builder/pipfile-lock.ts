/**
 * A Pipenv app's Pipfile.lock as a requirements file that uv installs: its `default`
 * packages at their locked versions, with their extras, markers and hashes (uv checks the
 * hashes it is given), and the lock's indexes other than PyPI as extra indexes. What
 * `pipenv requirements --hash` writes, without Pipenv. Pure.
 */
import { buildErrors } from './errors.js';

/** PEP 508 names: letters, digits, `.`, `-`, `_`, starting and ending with a letter or digit. */
const packageName = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,200}[A-Za-z0-9])?$/;
const extraName = packageName;
/** `==1.2.3`, `===1.0`: a locked version is exact. */
const lockedVersion = /^={2,3}[A-Za-z0-9.+!*_-]{1,100}$/;
const hash = /^(?:sha256|sha384|sha512):[0-9a-f]{64,128}$/;
/** A git or file URL as Pipenv writes it: no spaces, no line breaks, no `#` other than its fragment. */
const url = /^(?:git\+)?(?:https?|ssh|git|file):\/\/[^\s]{1,2000}$/;

export interface PipfileRequirements {
  /** The requirements file's text. */
  readonly text: string;
  /** How many packages it names. */
  readonly packages: number;
  /** The Python the lock was made for (`_meta.requires.python_full_version`, else `python_version`). */
  readonly python?: string;
}

type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

const isObject = (value: Json | undefined): value is { readonly [key: string]: Json } => typeof value === 'object' && value !== null && !Array.isArray(value);

/** No line of the file may be broken into two by a value: a marker or URL with a line break would add a line of its own (an option such as --index-url). */
const oneLine = (value: string, what: string): string => {
  if (/[\r\n\0]/.test(value)) throw buildErrors.pipfileLock({ reason: `${what} has a line break` });
  return value;
};

export function pipfileLockRequirements(lockText: string): PipfileRequirements {
  let lock: Json;
  try {
    lock = JSON.parse(lockText) as Json;
  } catch (error) {
    throw buildErrors.pipfileLock({ reason: `it is not JSON (${(error as Error).message})` });
  }
  if (!isObject(lock)) throw buildErrors.pipfileLock({ reason: 'it is not a JSON object' });
  const meta = isObject(lock._meta) ? lock._meta : {};
  const requires = isObject(meta.requires) ? meta.requires : {};
  const pythonWanted = typeof requires.python_full_version === 'string' ? requires.python_full_version : typeof requires.python_version === 'string' ? requires.python_version : undefined;

  const lines: string[] = [];
  // Indexes other than PyPI's, as extra indexes: PyPI stays the index the machine's configuration names (a mirror, here).
  const sources = Array.isArray(meta.sources) ? meta.sources : [];
  for (const source of sources) {
    if (!isObject(source) || typeof source.url !== 'string') continue;
    if (/^https?:\/\/pypi\.(org|python\.org)\/simple\/?$/.test(source.url)) continue;
    if (!url.test(source.url)) throw buildErrors.pipfileLock({ reason: `_meta.sources has the URL "${source.url.slice(0, 100)}", which is not an http(s) URL` });
    lines.push(`--extra-index-url ${oneLine(source.url, 'a source URL')}`);
  }

  const packages = lock.default;
  if (packages !== undefined && !isObject(packages)) throw buildErrors.pipfileLock({ reason: '"default" is not an object of packages' });
  let count = 0;
  for (const [name, entry] of Object.entries(packages ?? {})) {
    if (!packageName.test(name)) throw buildErrors.pipfileLock({ reason: `"${name.slice(0, 100)}" in "default" is not a package name` });
    if (!isObject(entry)) throw buildErrors.pipfileLock({ reason: `${name} in "default" is not an object` });
    const extras = Array.isArray(entry.extras) ? entry.extras : [];
    for (const extra of extras) if (typeof extra !== 'string' || !extraName.test(extra)) throw buildErrors.pipfileLock({ reason: `${name} has an extra that is not a name` });
    const named = extras.length > 0 ? `${name}[${extras.join(',')}]` : name;
    let requirement: string;
    if (typeof entry.version === 'string') {
      if (!lockedVersion.test(entry.version)) throw buildErrors.pipfileLock({ reason: `${name} has the version "${entry.version.slice(0, 100)}", not an exact one (==X)` });
      requirement = `${named}${entry.version}`;
    } else if (typeof entry.git === 'string') {
      if (!url.test(entry.git)) throw buildErrors.pipfileLock({ reason: `${name} has the git URL "${entry.git.slice(0, 100)}", which is not a URL` });
      const ref = typeof entry.ref === 'string' ? entry.ref : undefined;
      if (ref !== undefined && !/^[\w./-]{1,200}$/.test(ref)) throw buildErrors.pipfileLock({ reason: `${name} has the git ref "${ref.slice(0, 100)}"` });
      const base = entry.git.startsWith('git+') ? entry.git : `git+${entry.git}`;
      const subdirectory = typeof entry.subdirectory === 'string' && /^[\w./-]{1,200}$/.test(entry.subdirectory) ? `#subdirectory=${entry.subdirectory}` : '';
      requirement = `${named} @ ${base}${ref ? `@${ref}` : ''}${subdirectory}`;
    } else if (typeof entry.file === 'string') {
      if (!url.test(entry.file)) throw buildErrors.pipfileLock({ reason: `${name} has the file "${entry.file.slice(0, 100)}", which is not a URL` });
      requirement = `${named} @ ${entry.file}`;
    } else if (typeof entry.path === 'string') {
      // A local package of the repository (`-e .`): inside the release, never above it.
      const path = entry.path;
      if (!/^\.(?:\/[\w.-]{1,200}){0,20}\/?$/.test(path) || path.split('/').includes('..')) throw buildErrors.pipfileLock({ reason: `${name} has the path "${path.slice(0, 100)}"; only paths inside the repository (./...) are installed` });
      requirement = extras.length > 0 ? `${path}[${extras.join(',')}]` : path;
      if (entry.editable === true) requirement = `-e ${requirement}`;
    } else {
      // `"version": "*"` is never locked; an entry with none of these is Pipenv's for a package it could not lock.
      throw buildErrors.pipfileLock({ reason: `${name} has no version, git, file or path` });
    }
    if (typeof entry.markers === 'string' && entry.markers.trim() !== '') requirement += ` ; ${oneLine(entry.markers.trim(), `${name}'s markers`)}`;
    const hashes = Array.isArray(entry.hashes) ? entry.hashes : [];
    for (const given of hashes) {
      if (typeof given !== 'string' || !hash.test(given)) throw buildErrors.pipfileLock({ reason: `${name} has a hash that is not sha256:HEX` });
      requirement += ` --hash=${given}`;
    }
    lines.push(requirement);
    count += 1;
  }
  return { text: lines.length === 0 ? '' : `${lines.join('\n')}\n`, packages: count, ...(pythonWanted !== undefined ? { python: pythonWanted } : {}) };
}
