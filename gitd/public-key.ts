import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';

// ssh2 is CommonJS; its named exports are not visible to ESM.
const { utils } = ssh2;

export interface PublicKey {
  /** e.g. ssh-ed25519 */
  readonly type: string;
  /** base64 of the key blob, as in authorized_keys */
  readonly blob: string;
  readonly comment: string;
  /** SHA256:..., exactly as `ssh-keygen -l` prints it */
  readonly fingerprint: string;
}

export type ParsedLine = { readonly ok: true; readonly key: PublicKey } | { readonly ok: false; readonly reason: string; readonly isPrivate: boolean };

export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** One authorized_keys-style line: "TYPE BASE64 [COMMENT]". */
export function parsePublicKeyLine(line: string): ParsedLine {
  const text = line.trim();
  if (text.startsWith('-----BEGIN')) return { ok: false, reason: 'this is a private key', isPrivate: true };
  const parsed = utils.parseKey(text);
  if (parsed instanceof Error) return { ok: false, reason: parsed.message, isPrivate: false };
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key) return { ok: false, reason: 'no key found', isPrivate: false };
  if (key.isPrivateKey()) return { ok: false, reason: 'this is a private key', isPrivate: true };
  const blob = key.getPublicSSH();
  return {
    ok: true,
    key: { type: key.type, blob: blob.toString('base64'), comment: key.comment ?? '', fingerprint: fingerprintOf(blob) },
  };
}

export function formatPublicKey(key: PublicKey): string {
  return `${key.type} ${key.blob}${key.comment ? ` ${key.comment}` : ''}`;
}
