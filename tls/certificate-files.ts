/**
 * The certificates of the local runtime: one JSON file per certificate under the state
 * folder, `certs/<app>/<id>.json`, readable by Dormant only (0600 in 0700 folders), as
 * the apps' config is. Each names the uid of the App it was added to, so an app deleted
 * and made again under its name never serves the old one's certificates.
 */
import { type FSWatcher, watch as watchFolder } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tempMarker, writeFileAtomic } from '../state-folder/index.js';
import { type CertificateFacts, type CertificateSource, type HeldCertificate, readCertificatePair } from './certificate.js';

/** What one file holds. */
export interface CertificateRecord {
  readonly app: string;
  /** The App's metadata.uid when it was added: served only while the App is that one. */
  readonly appUid: string;
  readonly id: string;
  readonly source: CertificateSource;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly addedAt: string;
}

export type StoredCertificate = CertificateRecord & HeldCertificate;

/**
 * Where certificates are kept: files in the state folder (the local runtime, and Dormant
 * on the host against a cluster), or TLS Secrets (Kubernetes). The HTTPS listener and
 * ACME read and write them only through this.
 */
export interface CertificateStore {
  /** Every certificate (of one app when given); one that does not parse is skipped and reported. */
  list(app?: string, unreadable?: (where: string, error: unknown) => void): Promise<StoredCertificate[]>;
  /** Writes (or replaces) one certificate, checked by the caller (readCertificatePair). */
  put(record: CertificateRecord): Promise<void>;
  /** Removes one; false when it was not there. */
  remove(app: string, id: string): Promise<boolean>;
  /** Removes every certificate of an app (apps delete). */
  removeApp(app: string): Promise<void>;
  /** Calls onChange (debounced) when any may have changed, by this process or another, until signal aborts. */
  watch(onChange: () => void, signal: AbortSignal): void;
}

/** The most certificates one app holds: its 32 hosts' ACME ones and a few of the user's. */
export const maxCertificatesPerApp = 48;

const namePattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const idPattern = /^(user|acme)-[a-z0-9*]([-a-z0-9.*]*[a-z0-9])?$/;

export class CertificateFiles implements CertificateStore {
  readonly #dir: string;

  constructor(stateDir: string) {
    this.#dir = join(stateDir, 'certs');
  }

  #file(app: string, id: string): string {
    if (!namePattern.test(app) || !idPattern.test(id) || id.includes('..')) throw new Error(`not a certificate's name: ${app}/${id}`);
    return join(this.#dir, app, `${id}.json`);
  }

  /** Every certificate (of one app when given), read back; a file that does not parse is skipped and reported. */
  async list(app?: string, unreadable?: (file: string, error: unknown) => void): Promise<StoredCertificate[]> {
    const apps = app === undefined ? await readdir(this.#dir).catch(() => [] as string[]) : [app];
    const found: StoredCertificate[] = [];
    for (const name of apps.sort()) {
      if (!namePattern.test(name)) continue;
      const files = await readdir(join(this.#dir, name)).catch(() => [] as string[]);
      for (const file of files.sort()) {
        if (!file.endsWith('.json') || file.includes(tempMarker)) continue;
        const path = join(this.#dir, name, file);
        try {
          const record = JSON.parse(await readFile(path, 'utf8')) as CertificateRecord;
          const facts: CertificateFacts = readCertificatePair(record.certificatePem, record.privateKeyPem, undefined);
          found.push({ ...record, ...facts, app: name });
        } catch (error) {
          unreadable?.(path, error);
        }
      }
    }
    return found;
  }

  /** Writes (or replaces) one certificate. The caller has checked it (readCertificatePair). */
  async put(record: CertificateRecord): Promise<void> {
    const file = this.#file(record.app, record.id);
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    await mkdir(join(this.#dir, record.app), { recursive: true, mode: 0o700 });
    await writeFileAtomic(file, `${JSON.stringify(record, null, 2)}\n`);
  }

  /** Removes one certificate; false when it was not there. */
  async remove(app: string, id: string): Promise<boolean> {
    const file = this.#file(app, id);
    const existed = await readFile(file).then(
      () => true,
      () => false,
    );
    await rm(file, { force: true });
    return existed;
  }

  /** What the rescan compares: every file's path, size and modification time. */
  async #signature(): Promise<string> {
    const parts: string[] = [];
    for (const app of (await readdir(this.#dir).catch(() => [] as string[])).sort()) {
      const folder = join(this.#dir, app);
      for (const file of (await readdir(folder).catch(() => [] as string[])).sort()) {
        const facts = await stat(join(folder, file)).catch(() => undefined);
        parts.push(`${app}/${file}:${facts?.size ?? -1}:${facts?.mtimeMs ?? -1}`);
      }
    }
    return parts.join('\n');
  }

  /** Removes every certificate of an app (apps delete). */
  async removeApp(app: string): Promise<void> {
    if (!namePattern.test(app)) return;
    await rm(join(this.#dir, app), { recursive: true, force: true });
  }

  /**
   * Calls onChange (debounced) when a certificate may have been added, replaced or removed,
   * by this process or another (the CLI), until signal aborts. The certs folder and each
   * app's folder are watched (inotify; a recursive watch misses folders made after it
   * starts on Node 20), and a rescan every `rescanMs` covers what a watch still misses.
   */
  watch(onChange: () => void, signal: AbortSignal, rescanMs = 10_000): void {
    const watchers = new Map<string, FSWatcher>();
    let pending: NodeJS.Timeout | undefined;
    const changed = () => {
      if (pending !== undefined || signal.aborted) return;
      pending = setTimeout(() => {
        pending = undefined;
        void follow().finally(onChange);
      }, 20);
      pending.unref();
    };
    const watchFolderOnce = (dir: string) => {
      if (watchers.has(dir) || signal.aborted) return;
      try {
        const watcher = watchFolder(dir, { signal }, changed);
        watcher.on('error', () => watchers.delete(dir));
        watchers.set(dir, watcher);
      } catch {
        // Gone between listing and watching: the rescan sees it.
      }
    };
    // Each app's folder, as it appears; a folder removed ends its own watch.
    const follow = async () => {
      const apps = await readdir(this.#dir).catch(() => [] as string[]);
      for (const app of apps) if (namePattern.test(app)) watchFolderOnce(join(this.#dir, app));
    };
    void mkdir(this.#dir, { recursive: true, mode: 0o700 })
      .then(() => {
        watchFolderOnce(this.#dir);
        return follow();
      })
      .catch(() => {});
    // The rescan says a change only when the files' names, sizes or times differ from the last it saw.
    let seen = '';
    const rescan = setInterval(() => {
      void this.#signature().then((signature) => {
        if (signature !== seen) {
          seen = signature;
          changed();
        }
      });
    }, rescanMs);
    rescan.unref();
    signal.addEventListener('abort', () => {
      clearInterval(rescan);
      clearTimeout(pending);
      for (const watcher of watchers.values()) watcher.close();
    });
  }
}
