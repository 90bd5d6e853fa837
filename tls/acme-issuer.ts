/**
 * Gets certificates from an ACME server (Let's Encrypt, or any by its directory URL) by
 * HTTP-01, for the hosts of apps with spec.tls.acme, and renews them. One order at a time:
 * a tenant with many hosts waits its turn and cannot flood the CA (whose rate limits are
 * per account). The challenge answers are kept here; the activator serves them on its HTTP
 * listener. What to order is decided by acme-plan.ts; this file does the I/O.
 */
import { readFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import type { Logger } from 'pino';
import { type App, appClaims, claimOrder } from '../crds/index.js';
import type { ResourceStore } from '../runtime/index.js';
import { writeFileAtomic } from '../state-folder/index.js';
import { type AcmeFailures, type AcmeOrder, dueOrders, nextCheckMs, retryDelayMs } from './acme-plan.js';
import { acmeCertificateId, type HeldCertificate, readCertificatePair } from './certificate.js';
import type { CertificateBook } from './certificate-book.js';
import type { CertificateStore } from './certificate-files.js';
import { tlsErrors } from './errors.js';

export interface AcmeIssuerOptions {
  readonly directoryUrl: string;
  /** The account's contact, when given. */
  readonly email?: string;
  /** A PEM file of CAs to trust for the directory's own HTTPS (a private ACME server), besides the usual roots. */
  readonly caFile?: string;
  readonly stateDir: string;
  readonly domain: string;
  readonly store: ResourceStore;
  readonly files: CertificateStore;
  readonly book: CertificateBook;
  readonly log: Logger;
  /** A platform event in the app's log (dormant logs APP --source platform). */
  readonly record?: (app: string, text: string) => void;
  readonly clock?: () => number;
}

/** How long the issuer waits for the ACME server on one order before it counts as failed. */
const orderTimeoutMs = 5 * 60_000;
/** A pass waits at least this long for more changes before it plans (an app's hosts come in one write, its certificates in a few). */
const settleMs = 200;

/** The HTTP-01 answers being served: token to key authorization, for the host it was asked for. */
export class Http01Answers {
  readonly #answers = new Map<string, { readonly host: string; readonly keyAuthorization: string }>();

  /** How many are being served: the activator looks at tokens only while this is above 0. */
  get pending(): number {
    return this.#answers.size;
  }

  set(host: string, token: string, keyAuthorization: string): void {
    this.#answers.set(token, { host, keyAuthorization });
  }

  delete(token: string): void {
    this.#answers.delete(token);
  }

  /** The key authorization for this host and token, or undefined (then the request goes to the app). */
  answer(host: string, token: string): string | undefined {
    const found = this.#answers.get(token);
    return found !== undefined && found.host === host ? found.keyAuthorization : undefined;
  }
}

export class AcmeIssuer {
  readonly answers = new Http01Answers();
  readonly #options: AcmeIssuerOptions;
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #failures = new Map<string, AcmeFailures>();
  readonly #stop = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #settling = false;
  #client: Promise<import('acme-client').Client> | undefined;

  constructor(options: AcmeIssuerOptions) {
    this.#options = options;
    this.#log = options.log.child({ component: 'acme' });
    this.#clock = options.clock ?? Date.now;
  }

  /** Plans now and whenever an App or a certificate changes. */
  start(): void {
    const signal = this.#stop.signal;
    this.#options.book.onReload(() => this.#wake());
    void (async () => {
      for await (const _event of this.#options.store.watch('App', { signal })) this.#wake();
    })().catch((error: unknown) => {
      if (!signal.aborted) this.#log.error({ err: error }, 'App watch ended');
    });
    this.#wake();
  }

  async close(): Promise<void> {
    this.#stop.abort();
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** Plans soon: once the running pass ends, or settleMs after the first change (a stream of changes does not put it off). */
  #wake(): void {
    if (this.#stop.signal.aborted) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#settling) return;
    this.#settling = true;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#settling = false;
      this.#running = this.#pass()
        .catch((error: unknown) => this.#log.error({ err: error }, 'ACME pass failed'))
        .finally(() => {
          this.#running = undefined;
          if (this.#again) {
            this.#again = false;
            this.#wake();
          }
        });
    }, settleMs);
    this.#timer.unref();
  }

  async #plan(): Promise<{ apps: App[]; certificates: Map<string, HeldCertificate[]> }> {
    const apps = await this.#options.store.list('App');
    const certificates = new Map<string, HeldCertificate[]>();
    for (const app of apps) certificates.set(app.metadata.name, [...this.#options.book.certificatesOf(app.metadata.name, app.metadata.uid)]);
    return { apps, certificates };
  }

  async #pass(): Promise<void> {
    const { apps, certificates } = await this.#plan();
    const { domain } = this.#options;
    // A host claimed twice (written past the store's checks) is the oldest claim's: no other app gets a certificate for it.
    const owners = new Map<string, string>();
    for (const app of [...apps].sort((a, b) => claimOrder(a).localeCompare(claimOrder(b)))) {
      for (const host of appClaims(app, domain)) if (!owners.has(host)) owners.set(host, app.metadata.name);
    }
    for (const order of dueOrders(apps, certificates, this.#failures, domain, this.#clock())) {
      if (this.#stop.signal.aborted) return;
      const app = apps.find((candidate) => candidate.metadata.name === order.app);
      if (app?.metadata.uid === undefined || owners.get(order.host) !== order.app) continue;
      await this.#order(order, app.metadata.uid);
    }
    // After the orders: the certificates they wrote are read back by the book, which wakes this again.
    const later = await this.#plan();
    const next = nextCheckMs(later.apps, later.certificates, this.#failures, domain, this.#clock());
    if (next !== undefined && !this.#stop.signal.aborted) {
      clearTimeout(this.#timer);
      // Node's timers hold at most 2^31-1 ms; a renewal further off is planned again when that fires.
      this.#timer = setTimeout(() => this.#wake(), Math.min(2_147_483_647, Math.max(1000, next - this.#clock())));
      this.#timer.unref();
    }
  }

  async #order(order: AcmeOrder, appUid: string): Promise<void> {
    const { host } = order;
    const started = this.#clock();
    this.#log.info({ app: order.app, host, reason: order.reason }, 'ordering a certificate');
    const tokens: string[] = [];
    try {
      const acme = await import('acme-client');
      const client = await this.#account();
      // A CN holds 64 characters at most (CAs refuse longer); the name is in subjectAltName either way.
      const [privateKey, csr] = await acme.crypto.createCsr(host.length <= 64 ? { commonName: host, altNames: [host] } : { altNames: [host] });
      const timeout = AbortSignal.any([AbortSignal.timeout(orderTimeoutMs), this.#stop.signal]);
      const issued = await Promise.race([
        client.auto({
          csr,
          ...(this.#options.email === undefined ? {} : { email: this.#options.email }),
          termsOfServiceAgreed: true,
          challengePriority: ['http-01'],
          // acme-client would first fetch the challenge itself from the host's public address; the CA's own check is the one that counts.
          skipChallengeVerification: true,
          challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
            tokens.push(challenge.token);
            this.answers.set(host, challenge.token, keyAuthorization);
          },
          challengeRemoveFn: async (_authz, challenge) => {
            this.answers.delete(challenge.token);
          },
        }),
        new Promise<never>((_resolve, reject) => timeout.addEventListener('abort', () => reject(new Error(this.#stop.signal.aborted ? 'dormant up is stopping' : `no answer within ${orderTimeoutMs / 60_000} minutes`)))),
      ]);
      const privateKeyPem = privateKey.toString();
      readCertificatePair(issued, privateKeyPem, this.#clock(), `the certificate issued for ${host}`);
      // The App may have been deleted meanwhile: its certificate is written for the uid it had, which a new App of that name never matches.
      await this.#options.files.put({ app: order.app, appUid, id: acmeCertificateId(host), source: 'acme', certificatePem: issued, privateKeyPem, addedAt: new Date(this.#clock()).toISOString() });
      this.#failures.delete(host);
      const ms = Math.round(this.#clock() - started);
      this.#log.info({ app: order.app, host, ms }, 'certificate issued');
      this.#options.record?.(order.app, `TLS certificate for ${host} issued by ACME (${order.reason === 'renewal' ? 'renewed' : 'new'}, ${ms} ms)`);
      // Read back now (the folder watch would, a little later); a failure here is not the order's.
      await this.#options.book.reload().catch((error: unknown) => this.#log.error({ err: error }, 'reading certificates failed'));
    } catch (error) {
      if (this.#stop.signal.aborted) return;
      const count = (this.#failures.get(host)?.count ?? 0) + 1;
      const retryAtMs = this.#clock() + retryDelayMs(count);
      this.#failures.set(host, { count, retryAtMs });
      const failure = tlsErrors.acmeFailed({ host, reason: (error as Error).message.slice(0, 300) }, { cause: error });
      this.#log.warn({ app: order.app, host, err: failure, failures: count, retryInMs: retryAtMs - this.#clock() }, 'certificate order failed');
      this.#options.record?.(order.app, `TLS certificate for ${host} not issued: ${failure.message} (try ${count}; next in ${Math.round((retryAtMs - this.#clock()) / 60_000)} min)`);
    } finally {
      for (const token of tokens) this.answers.delete(token);
    }
  }

  /** The ACME account: its key is made once and kept in the state folder (0600), the account is found again by it. */
  #account(): Promise<import('acme-client').Client> {
    this.#client ??= (async () => {
      const acme = await import('acme-client');
      if (this.#options.caFile !== undefined) {
        const extra = await readFile(this.#options.caFile, 'utf8');
        acme.axios.defaults.httpsAgent = new Agent({ ca: [...rootCertificates, extra] });
      }
      const keyFile = join(this.#options.stateDir, 'acme-account-key.pem');
      let accountKey = await readFile(keyFile, 'utf8').catch(() => undefined);
      if (accountKey === undefined) {
        accountKey = (await acme.crypto.createPrivateEcdsaKey()).toString();
        await writeFileAtomic(keyFile, accountKey);
      }
      return new acme.Client({ directoryUrl: this.#options.directoryUrl, accountKey, backoffAttempts: 12, backoffMin: 250, backoffMax: 10_000 });
    })();
    this.#client.catch(() => {
      this.#client = undefined;
    });
    return this.#client;
  }

  /** Hosts whose last order failed, for dormant certs: how many times and when the next try is. */
  failures(): ReadonlyMap<string, AcmeFailures> {
    return this.#failures;
  }
}
