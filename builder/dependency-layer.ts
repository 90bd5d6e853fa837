/**
 * A dependency layer: what a build's install steps made (node_modules, .venv), kept in the
 * app's build cache under a key of what made it, so that the next build with the same key
 * restores it instead of installing again. Pure.
 */
import { createHash } from 'node:crypto';

export interface DependencyLayer {
  /** The file that pins them, for the pusher: "yarn.lock". */
  readonly lockfile: string;
  /** What they make, in the release: node_modules, .venv. */
  readonly folders: readonly string[];
  /** sha256 of the lockfile, the runtime's version, the stack and the install commands. */
  readonly key: string;
}

/** The key a dependency layer is kept under: what made it, hashed. */
export function dependencyKey(parts: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}
