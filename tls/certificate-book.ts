/**
 * The certificates the HTTPS listener presents, kept in memory from the certificate files
 * and reloaded when they change. The activator asks it for a host's TLS context during
 * the handshake (SNI): only the certificates of the app that holds the host, added to
 * that very App (its uid), are candidates.
 */
import { createHash } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { TlsSource } from '../activator/index.js';
import type { Logger } from 'pino';
import { chooseCertificate } from './certificate.js';
import type { CertificateStore, StoredCertificate } from './certificate-files.js';

export class CertificateBook implements TlsSource {
  readonly #files: CertificateStore;
  readonly #log: Logger;
  readonly #clock: () => number;
  #byApp = new Map<string, readonly StoredCertificate[]>();
  /** Contexts made so far, by the certificate's app, id and PEM hash: a reload keeps those still there, and a new chain for the same leaf gets a new one. */
  #contexts = new Map<string, SecureContext>();
  readonly #keys = new WeakMap<StoredCertificate, string>();
  readonly #listeners = new Set<() => void>();
  /** Counts reloads: what is cached from the book (the request path's redirect choice) is good while it stays the same. */
  #generation = 0;
  #reloading: Promise<void> | undefined;
  #again = false;

  constructor(options: { files: CertificateStore; log: Logger; clock?: () => number }) {
    this.#files = options.files;
    this.#log = options.log.child({ component: 'tls' });
    this.#clock = options.clock ?? Date.now;
  }

  get generation(): number {
    return this.#generation;
  }

  /** Loads the certificates, then follows their changes until signal aborts. */
  async start(signal: AbortSignal): Promise<void> {
    await this.reload();
    this.#files.watch(() => void this.reload().catch((error: unknown) => this.#log.error({ err: error }, 'reading certificates failed')), signal);
  }

  /**
   * Reads the certificates again. One read at a time, and one more after it when asked
   * meanwhile: an older read never lands after a newer one (a removed certificate stays removed).
   */
  reload(): Promise<void> {
    if (this.#reloading) {
      this.#again = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      try {
        do {
          this.#again = false;
          await this.#read();
        } while (this.#again);
      } finally {
        this.#reloading = undefined;
      }
    })();
    return this.#reloading;
  }

  async #read(): Promise<void> {
    const all = await this.#files.list(undefined, (where, error) => this.#log.warn({ where, err: error }, 'a certificate cannot be read; it is not served'));
    const byApp = new Map<string, StoredCertificate[]>();
    const kept = new Map<string, SecureContext>();
    for (const certificate of all) {
      const list = byApp.get(certificate.app);
      if (list) list.push(certificate);
      else byApp.set(certificate.app, [certificate]);
      const key = `${certificate.app}/${certificate.id}/${createHash('sha256').update(certificate.certificatePem).update(certificate.privateKeyPem).digest('hex')}`;
      this.#keys.set(certificate, key);
      const context = this.#contexts.get(key);
      if (context) kept.set(key, context);
    }
    this.#byApp = byApp;
    this.#contexts = kept;
    this.#generation++;
    for (const listener of this.#listeners) listener();
  }

  /** Called after each reload (the ACME issuer plans again). */
  onReload(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The certificates of an app as added to the App with this uid. */
  certificatesOf(app: string, appUid: string | undefined): readonly StoredCertificate[] {
    const list = this.#byApp.get(app) ?? [];
    return list.filter((certificate) => certificate.appUid === appUid);
  }

  /** The certificate served for host, which the App (name, uid) holds, or undefined. */
  certificateFor(app: string, appUid: string | undefined, host: string): StoredCertificate | undefined {
    return chooseCertificate(this.certificatesOf(app, appUid), host, this.#clock());
  }

  /** The TLS context for host, which the App (name, uid) holds; undefined: no certificate, the handshake is refused. */
  secureContext(app: string, appUid: string | undefined, host: string): SecureContext | undefined {
    const certificate = this.certificateFor(app, appUid, host);
    if (certificate === undefined) return undefined;
    const key = this.#keys.get(certificate) ?? `${certificate.app}/${certificate.id}`;
    let context = this.#contexts.get(key);
    if (context === undefined) {
      try {
        context = createSecureContext({ cert: certificate.certificatePem, key: certificate.privateKeyPem });
      } catch (error) {
        // Checked when added; a file changed by hand since: not served, said once per reload.
        this.#log.warn({ app, certificate: certificate.id, err: error }, 'a certificate cannot be served');
        return undefined;
      }
      this.#contexts.set(key, context);
    }
    return context;
  }
}
