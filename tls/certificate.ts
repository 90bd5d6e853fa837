/**
 * A certificate as Dormant serves it: the leaf's names and dates, checked against its key.
 * Which certificate a host gets: the newest valid one of its app whose names cover the host.
 * Pure (node:crypto parses; nothing is read or written).
 */
import { createHash, createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { tlsErrors } from './errors.js';

/** Where a certificate came from: given by the user (dormant certs add), or issued by ACME for one host. */
export type CertificateSource = 'user' | 'acme';

/** What a stored certificate says, read from its PEM. */
export interface CertificateFacts {
  /** DNS names of the leaf (subjectAltName; its CN when it has none), lower-case. */
  readonly names: readonly string[];
  readonly notBefore: number;
  readonly notAfter: number;
  readonly issuer: string;
  /** The leaf's SHA-256 fingerprint, hex without colons. */
  readonly fingerprint: string;
}

/** A PEM file holds at most this much (a leaf and a long chain fit in a few KiB). */
export const maxPemBytes = 64 * 1024;
const pemBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The DNS names of a leaf: its subjectAltName's DNS entries, else its CN. */
function namesOf(leaf: X509Certificate): string[] {
  const san = leaf.subjectAltName;
  if (san !== undefined) {
    const names = san
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry.startsWith('DNS:'))
      .map((entry) => entry.slice(4).toLowerCase());
    if (names.length > 0) return names;
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(leaf.subject)?.[1];
  return cn === undefined ? [] : [cn.toLowerCase()];
}

/**
 * Checks a certificate chain and its key, and says what the leaf is for. Throws
 * TLS_BAD_CERTIFICATE, TLS_KEY_MISMATCH, or TLS_CERT_EXPIRED (when `now` is past its end;
 * undefined: a stored certificate read back, whose end the choice checks).
 */
export function readCertificatePair(certificatePem: string, privateKeyPem: string, now: number | undefined, source = 'the certificate'): CertificateFacts {
  if (Buffer.byteLength(certificatePem) > maxPemBytes) throw tlsErrors.badCertificate({ source, reason: `it is over ${maxPemBytes / 1024} KiB` });
  if (Buffer.byteLength(privateKeyPem) > maxPemBytes) throw tlsErrors.badCertificate({ source: 'the private key', reason: `it is over ${maxPemBytes / 1024} KiB` });
  const blocks = certificatePem.match(pemBlock) ?? [];
  const [first] = blocks;
  if (first === undefined) throw tlsErrors.badCertificate({ source, reason: 'it holds no PEM certificate (-----BEGIN CERTIFICATE-----)' });
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(first);
    for (const block of blocks.slice(1)) new X509Certificate(block);
  } catch (error) {
    throw tlsErrors.badCertificate({ source, reason: (error as Error).message }, { cause: error });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch (error) {
    throw tlsErrors.badCertificate({ source: 'the private key', reason: `it is not a PEM private key without a passphrase (${(error as Error).message})` }, { cause: error });
  }
  const names = namesOf(leaf);
  if (names.length === 0) throw tlsErrors.badCertificate({ source, reason: 'its leaf names no DNS host (no subjectAltName DNS entry or CN)' });
  if (!leaf.checkPrivateKey(key)) throw tlsErrors.keyMismatch({ names: names.join(', ') });
  const notAfter = Date.parse(leaf.validTo);
  if (now !== undefined && notAfter <= now) throw tlsErrors.expired({ names: names.join(', '), notAfter: new Date(notAfter).toISOString() });
  // What OpenSSL itself refuses to serve (a key too small, a digest too weak) is refused now, not at the first handshake.
  try {
    createSecureContext({ cert: certificatePem, key: privateKeyPem });
  } catch (error) {
    throw tlsErrors.badCertificate({ source, reason: `TLS cannot serve it: ${(error as Error).message}` }, { cause: error });
  }
  return { names, notBefore: Date.parse(leaf.validFrom), notAfter, issuer: leaf.issuer.replace(/\n/g, ', '), fingerprint: leaf.fingerprint256.replace(/:/g, '').toLowerCase() };
}

/** Whether a certificate name covers a host: equal, or a wildcard `*.example.com` for exactly one more label. */
export function nameCovers(name: string, host: string): boolean {
  if (name === host) return true;
  if (!name.startsWith('*.')) return false;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === name.slice(2);
}

export const certificateCovers = (facts: Pick<CertificateFacts, 'names'>, host: string): boolean => facts.names.some((name) => nameCovers(name, host));

/** A certificate an app holds, as the choice sees it. */
export interface HeldCertificate extends CertificateFacts {
  readonly id: string;
  readonly source: CertificateSource;
}

const rank = (certificate: HeldCertificate): number => (certificate.source === 'user' ? 1 : 0);

/**
 * The certificate to present for host: among those covering it and valid at `now`, a
 * user's before ACME's (the user chose it), then the one valid longest. Undefined: none.
 */
export function chooseCertificate<T extends HeldCertificate>(certificates: readonly T[], host: string, now: number): T | undefined {
  let best: T | undefined;
  for (const candidate of certificates) {
    if (candidate.notBefore > now || candidate.notAfter <= now || !certificateCovers(candidate, host)) continue;
    if (best === undefined || rank(candidate) > rank(best) || (candidate.source === best.source && candidate.notAfter > best.notAfter)) best = candidate;
  }
  return best;
}

/** The name a user's certificate is known by (`dormant certs remove APP NAME`): from its fingerprint, so adding it twice is one certificate. */
export const userCertificateId = (facts: Pick<CertificateFacts, 'fingerprint'>): string => `user-${facts.fingerprint.slice(0, 12)}`;
/** The name of the certificate ACME issued for one host; a long host is named by its hash, so that a file or Secret name stays within bounds. */
export const acmeCertificateId = (host: string): string => (host.length <= 120 ? `acme-${host}` : `acme-${createHash('sha256').update(host).digest('hex').slice(0, 32)}`);
