// Certificates for the tests, made by openssl (Debian's, as a user's would be): a CA, and
// leaves it signs for the names asked, each with its key, in a temporary folder.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';

export interface TestPair {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly certificateFile: string;
  readonly keyFile: string;
}

export class TestCa {
  readonly dir: string;
  readonly caFile: string;
  #serial = 1;

  constructor(dir = mkdtempSync(join(tmpdir(), 'dormant-ca-'))) {
    this.dir = dir;
    this.caFile = join(dir, 'ca.pem');
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=Dormant Test CA');
  }

  /** A leaf for these DNS names, valid for `days`, signed by this CA; the PEM is the leaf then the CA (a chain). */
  issue(names: readonly string[], days = 10): TestPair {
    const serial = this.#serial++;
    const base = join(this.dir, `leaf-${serial}`);
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${names[0] ?? 'none'}`);
    writeFileSync(`${base}.ext`, `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\n`);
    openssl('x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(1000 + serial), '-out', `${base}.leaf.pem`, '-days', String(days), '-extfile', `${base}.ext`);
    const certificatePem = readFileSync(`${base}.leaf.pem`, 'utf8') + readFileSync(this.caFile, 'utf8');
    writeFileSync(`${base}.pem`, certificatePem);
    return { certificatePem, privateKeyPem: readFileSync(`${base}.key`, 'utf8'), certificateFile: `${base}.pem`, keyFile: `${base}.key` };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The DNS names of the certificate an HTTPS listener on 127.0.0.1:port presents for this SNI name (`DNS:a, DNS:b`), or `error: ...` when the handshake fails. */
export function presentedNames(port: number, servername: string): Promise<string> {
  return new Promise<string>((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().subjectaltname ?? '');
      socket.destroy();
    });
    socket.on('error', (error) => resolve(`error: ${error.message}`));
  });
}

/** pebble's config (hack/pebble.sh's folder for its API certificate): it validates HTTP-01 answers at httpPort of the names' address. */
export function pebbleConfig(options: { pebbleDir: string; acmePort: number; managementPort: number; httpPort: number; tlsPort: number }): string {
  return JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${options.acmePort}`,
      managementListenAddress: `127.0.0.1:${options.managementPort}`,
      certificate: join(options.pebbleDir, 'localhost-cert.pem'),
      privateKey: join(options.pebbleDir, 'localhost-key.pem'),
      httpPort: options.httpPort,
      tlsPort: options.tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
    },
  });
}
