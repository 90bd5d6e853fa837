import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StateLock, writeFileAtomic } from '../state-folder/index.js';
import { gitdErrors } from './errors.js';
import { formatPublicKey, parsePublicKeyLine, type PublicKey } from './public-key.js';

/**
 * The admin SSH keys: they may push to any app and create apps by pushing. Kept as
 * <stateDir>/admin-keys in authorized_keys format, so people can read and audit it.
 */
export class AdminKeys {
  readonly #stateDir: string;
  readonly #file: string;
  /** add and remove read, change and write the file: one process at a time. */
  readonly #lock: StateLock;

  constructor(stateDir: string) {
    this.#stateDir = stateDir;
    this.#file = join(stateDir, 'admin-keys');
    this.#lock = new StateLock(join(stateDir, 'admin-keys.lock'));
  }

  async list(): Promise<PublicKey[]> {
    const text = await readFile(this.#file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    const keys: PublicKey[] = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '' || line.startsWith('#')) continue;
      const parsed = parsePublicKeyLine(line);
      if (parsed.ok) keys.push(parsed.key);
    }
    return keys;
  }

  /**
   * Adds every key in text (a .pub file: one key per line). All or nothing: one bad line
   * or one key already present adds none.
   */
  async add(text: string, source: string): Promise<PublicKey[]> {
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) throw gitdErrors.keyIsPrivate({ source });
    const adding: PublicKey[] = [];
    text.split('\n').forEach((line, index) => {
      if (line.trim() === '' || line.trim().startsWith('#')) return;
      const parsed = parsePublicKeyLine(line);
      if (!parsed.ok) throw gitdErrors.keyInvalid({ source, line: index + 1, reason: parsed.reason });
      adding.push(parsed.key);
    });
    if (adding.length === 0) throw gitdErrors.keyNone({ source });
    // Keys are often added before the first dormant up made the state folder.
    await mkdir(this.#stateDir, { recursive: true });
    return this.#lock.withLock(async () => {
      const existing = await this.list();
      const seen = new Set(existing.map((k) => k.fingerprint));
      for (const key of adding) {
        if (seen.has(key.fingerprint)) throw gitdErrors.keyExists({ fingerprint: key.fingerprint });
        seen.add(key.fingerprint);
      }
      await this.#save([...existing, ...adding]);
      return adding;
    });
  }

  /** Accepts the fingerprint with or without its SHA256: prefix. */
  async remove(fingerprint: string): Promise<PublicKey> {
    const wanted = fingerprint.startsWith('SHA256:') ? fingerprint : `SHA256:${fingerprint}`;
    return this.#lock.withLock(async () => {
      const existing = await this.list();
      const removed = existing.find((k) => k.fingerprint === wanted);
      if (!removed) throw gitdErrors.keyNotFound({ fingerprint, known: existing.map((k) => k.fingerprint) });
      await this.#save(existing.filter((k) => k !== removed));
      return removed;
    });
  }

  async #save(keys: readonly PublicKey[]): Promise<void> {
    const header = '# Dormant admin keys: may push to every app. Manage with `dormant keys`.\n';
    await writeFileAtomic(this.#file, header + keys.map((k) => `${formatPublicKey(k)}\n`).join(''));
  }
}
