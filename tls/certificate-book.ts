/**
 * The certificates the HTTPS listener presents, kept in memory from the certificate files
 * and reloaded when they change. The activator asks it for a host's TLS context during
 * the handshake (SNI): only the certificates of the app that holds the host, added to
 * that very App (its uid), are candidates.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { chooseCertificate } from './certificate.js';
import type { CertificateFiles, StoredCertificate } from './certificate-files.js';

export class CertificateBook {
  readonly #files: CertificateFiles;
  readonly #log: Logger;
  readonly #clock: () => number;
  #byApp = new Map<string, readonly StoredCertificate[]>();
  /** Contexts made so far, by certificate id and fingerprint: a reload keeps those still there. */
  #contexts = new Map<string, SecureContext>();
  readonly #listeners = new Set<() => void>();

  constructor(options: { files: CertificateFiles; log: Logger; clock?: () => number }) {
    this.#files = options.files;
    this.#log = options.log.child({ component: 'tls' });
    this.#clock = options.clock ?? Date.now;
  }

  /** Loads the certificates, then follows their changes until signal aborts. */
  async start(signal: AbortSignal): Promise<void> {
    await this.reload();
    this.#files.watch(() => void this.reload().catch((error: unknown) => this.#log.error({ err: error }, 'reading certificates failed')), signal);
  }

  async reload(): Promise<void> {
    const all = await this.#files.list(undefined, (file, error) => this.#log.warn({ file, err: error }, 'a certificate file cannot be read; it is not served'));
    const byApp = new Map<string, StoredCertificate[]>();
    for (const certificate of all) {
      const list = byApp.get(certificate.app);
      if (list) list.push(certificate);
      else byApp.set(certificate.app, [certificate]);
    }
    const kept = new Map<string, SecureContext>();
    for (const certificate of all) {
      const key = `${certificate.app}/${certificate.id}/${certificate.fingerprint}`;
      const context = this.#contexts.get(key);
      if (context) kept.set(key, context);
    }
    this.#byApp = byApp;
    this.#contexts = kept;
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
    const key = `${certificate.app}/${certificate.id}/${certificate.fingerprint}`;
    let context = this.#contexts.get(key);
    if (context === undefined) {
      context = createSecureContext({ cert: certificate.certificatePem, key: certificate.privateKeyPem });
      this.#contexts.set(key, context);
    }
    return context;
  }
}
