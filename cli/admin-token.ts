/**
 * The admin token of a running `dormant up`: what the metrics port's admin endpoints
 * (`/trace/APP`, anything beyond /metrics, /healthz, /readyz) require as
 * `Authorization: Bearer TOKEN`. A new random one is written on each start to
 * STATE/admin-token (mode 0600, atomically); the CLI reads it from there.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../state-folder/index.js';

export const adminTokenFile = (stateDir: string) => join(stateDir, 'admin-token');

/** Makes a new token and writes it, readable by this user only; resolves with it. */
export async function writeAdminToken(stateDir: string): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  // writeFileAtomic creates its temp file with mode 0600 before any byte is in it.
  await writeFileAtomic(adminTokenFile(stateDir), `${token}\n`);
  return token;
}

/** The token of the state folder's dormant up, or undefined when there is none to read. */
export async function readAdminToken(stateDir: string): Promise<string | undefined> {
  try {
    const token = (await readFile(adminTokenFile(stateDir), 'utf8')).trim();
    return token === '' ? undefined : token;
  } catch {
    return undefined;
  }
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Whether an Authorization header carries the token, compared in constant time (over
 * digests, so that neither the token's length nor a prefix is learnt from the timing).
 */
export function hasAdminToken(authorization: string | undefined, token: string): boolean {
  const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
  const given = match?.[1] ?? '';
  // Both sides are digested whatever was sent, so a missing header costs the same time.
  return timingSafeEqual(digest(given), digest(token)) && given !== '';
}
