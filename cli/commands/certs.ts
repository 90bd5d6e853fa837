/**
 * An app's certificates (Heroku's certs): given by the user, or obtained and renewed by
 * ACME (certs auto:enable), presented by dormant up's HTTPS listener (--https-port) for
 * the app's hosts only. Kept in the state folder, readable by Dormant only.
 */
import type { App } from '../../crds/index.js';
import { appClaims, reservedHost } from '../../crds/index.js';
import { loadKubernetesBackend, updateWithRetry } from '../../runtime/index.js';
import { acmeHostsOf, acmeIneligible, CertificateFiles, type CertificateStore, certificateCovers, maxCertificatesPerApp, maxPemBytes, readCertificatePair, tlsErrors, userCertificateId } from '../../tls/index.js';
import { isDormantError } from '../../errors/index.js';
import type { Command, CommandContext } from '../command.js';
import { cliErrors } from '../errors.js';
import { readFileCapped } from '../manifest-input.js';
import { formatTable, print } from '../output.js';
import { currentSettings, readRuntimeRecord } from '../settings.js';

/** Where this state folder's dormant up keeps certificates: its files, or TLS Secrets in its cluster. */
export async function certificateStoreOf(stateDir: string): Promise<CertificateStore> {
  const runtime = await readRuntimeRecord(stateDir);
  if (runtime.runtime !== 'kubernetes') return new CertificateFiles(stateDir);
  const kube = await loadKubernetesBackend();
  return new kube.CertificateSecrets({ config: kube.loadKubeConfig(runtime.kubeconfig), ...(runtime.namespace === undefined ? {} : { namespace: runtime.namespace }) });
}

/** What a certificate command works on: the app, where its certificates are kept, and the domain. */
async function certificatesOf(context: CommandContext, name: string): Promise<{ app: App; files: CertificateStore; domain: string }> {
  const runtime = await readRuntimeRecord(context.stateDir);
  const store = await context.store();
  const app = await store.get('App', name);
  const settings = await currentSettings(context.flags, context.io);
  return { app, files: await certificateStoreOf(context.stateDir), domain: runtime.domain ?? settings.domain };
}

/** A PEM file of at most 64 KiB (a certificate with its chain, or a key). */
async function readPem(path: string): Promise<string> {
  try {
    return await readFileCapped(path, path, maxPemBytes);
  } catch (error) {
    if (isDormantError(error, 'CLI_INPUT_TOO_LARGE')) throw tlsErrors.badCertificate({ source: path, reason: `it is over ${maxPemBytes / 1024} KiB` }, { cause: error });
    throw error;
  }
}

/** Where the HTTPS listener is, or a note that there is none (the certificates wait for it). */
async function servedNote(context: CommandContext): Promise<string> {
  const settings = await currentSettings(context.flags, context.io);
  if (settings.running === undefined) return 'served once dormant up runs with --https-port';
  const port = settings.running.publicHttpsPort ?? settings.running.httpsPort;
  return port === undefined ? 'not served yet: this dormant up has no HTTPS listener; start it with --https-port 443 (or another port)' : `served on HTTPS port ${port}`;
}

export const certsList: Command = {
  name: 'certs',
  aliases: ['certs list'],
  usage: 'dormant certs APP [-o json|yaml]',
  summary: "List an app's certificates: their hosts, where they came from, when they end",
  args: 1,
  async run(context) {
    const [name = ''] = context.args;
    const { app, files, domain } = await certificatesOf(context, name);
    const held = (await files.list(name)).filter((c) => c.appUid === app.metadata.uid);
    const now = context.io.now().getTime();
    const rows = held.map((c) => ({
      name: c.id,
      source: c.source,
      hosts: c.names,
      serves: appClaims(app, domain).filter((host) => certificateCovers(c, host)),
      notAfter: new Date(c.notAfter).toISOString(),
      expired: c.notAfter <= now,
      issuer: c.issuer,
      fingerprint: c.fingerprint,
    }));
    const acme = app.spec.tls?.acme === true;
    const pending = acme ? acmeHostsOf(app, domain).filter((host) => !held.some((c) => c.notAfter > now && certificateCovers(c, host))) : [];
    print(context.io, context.output, { app: name, acme, redirectHttp: app.spec.tls?.redirectHttp === true, certificates: rows, acmePending: pending }, () => {
      const lines = [
        rows.length === 0
          ? `${name} has no certificates.\n`
          : formatTable(
              ['NAME', 'SOURCE', 'HOSTS', 'SERVES', 'EXPIRES', 'ISSUER'],
              rows.map((r) => [r.name, r.source, r.hosts.join(','), r.serves.length === 0 ? '(none of its hosts)' : r.serves.join(','), `${r.notAfter.slice(0, 10)}${r.expired ? ' (expired)' : ''}`, (/CN=([^,]+)/.exec(r.issuer)?.[1] ?? r.issuer).slice(0, 40)]),
            ),
        `ACME: ${acme ? `on${pending.length > 0 ? `, waiting for ${pending.join(', ')}` : ''}` : `off (dormant certs auto:enable ${name})`}; HTTP to HTTPS redirect: ${app.spec.tls?.redirectHttp === true ? 'on' : 'off'}\n`,
      ];
      return lines.join('');
    });
    return undefined;
  },
};

export const certsAdd: Command = {
  name: 'certs add',
  aliases: ['certs:add'],
  usage: 'dormant certs add APP CERT.pem KEY.pem   (the certificate with its chain, and its unencrypted private key)',
  summary: 'Add a certificate of your own for some of an app\'s hosts',
  args: 3,
  async run(context) {
    const [name = '', certificateFile = '', keyFile = ''] = context.args;
    const { app, files, domain } = await certificatesOf(context, name);
    const certificatePem = await readPem(certificateFile);
    const privateKeyPem = await readPem(keyFile);
    const facts = readCertificatePair(certificatePem, privateKeyPem, context.io.now().getTime(), certificateFile);
    const hosts = appClaims(app, domain);
    const serves = hosts.filter((host) => certificateCovers(facts, host));
    if (serves.length === 0) throw tlsErrors.coversNoHost({ app: name, names: facts.names.join(', '), hosts: hosts.join(', ') });
    const id = userCertificateId(facts);
    const held = (await files.list(name)).filter((c) => c.appUid === app.metadata.uid);
    if (held.length >= maxCertificatesPerApp && !held.some((c) => c.id === id)) throw tlsErrors.tooMany({ app: name, max: maxCertificatesPerApp });
    await files.put({ app: name, appUid: app.metadata.uid ?? '', id, source: 'user', certificatePem, privateKeyPem, addedAt: context.io.now().toISOString() });
    context.io.stdout.write(`Added certificate ${id} to ${name} for ${serves.join(', ')} (until ${new Date(facts.notAfter).toISOString().slice(0, 10)}); ${await servedNote(context)}.\n`);
    return undefined;
  },
};

export const certsRemove: Command = {
  name: 'certs remove',
  aliases: ['certs:remove'],
  usage: 'dormant certs remove APP NAME   (NAME as dormant certs APP lists it)',
  summary: 'Remove a certificate from an app',
  args: 2,
  async run(context) {
    const [name = '', id = ''] = context.args;
    const { app, files } = await certificatesOf(context, name);
    const held = (await files.list(name)).filter((c) => c.appUid === app.metadata.uid);
    if (!held.some((c) => c.id === id)) throw tlsErrors.noSuchCertificate({ app: name, name: id.slice(0, 80), known: held.length === 0 ? 'it has none' : held.map((c) => c.id).join(', ') });
    await files.remove(name, id);
    const acme = app.spec.tls?.acme === true && id.startsWith('acme-');
    context.io.stdout.write(`Removed certificate ${id} from ${name}${acme ? '; ACME gets a new one, as auto is on' : ''}.\n`);
    return undefined;
  },
};

async function setTls(context: CommandContext, name: string, field: 'acme' | 'redirectHttp', on: boolean): Promise<{ app: App; changed: boolean }> {
  const store = await context.store();
  let changed = false;
  const app = await updateWithRetry(async () => {
    const current = await store.get('App', name);
    changed = (current.spec.tls?.[field] === true) !== on;
    if (!changed) return current;
    const { [field]: _was, ...rest } = current.spec.tls ?? {};
    const tls = on ? { ...rest, [field]: true } : rest;
    const { tls: _old, ...spec } = current.spec;
    return store.update({ ...current, spec: Object.keys(tls).length === 0 ? spec : { ...spec, tls } });
  });
  return { app, changed };
}

export const certsAutoEnable: Command = {
  name: 'certs auto:enable',
  aliases: ['certs:auto:enable'],
  usage: 'dormant certs auto:enable APP   (certificates from dormant up\'s ACME server, --acme-directory; Let\'s Encrypt by default)',
  summary: "Get and renew certificates for an app's hosts automatically (ACME HTTP-01)",
  args: 1,
  async run(context) {
    const [name = ''] = context.args;
    const { domain } = await certificatesOf(context, name);
    const { app, changed } = await setTls(context, name, 'acme', true);
    const settings = await currentSettings(context.flags, context.io);
    const certManager = settings.running?.certManagerIssuer;
    if (certManager !== undefined) {
      // cert-manager's issuer decides what it can certify (HTTP-01, DNS-01, a private CA): every host the app holds is asked for.
      const hosts = appClaims(app, domain).filter((host) => reservedHost(host, domain) === undefined);
      context.io.stdout.write(`${changed ? 'Automatic certificates are on' : 'Automatic certificates were on already'} for ${name}: cert-manager's ${certManager.replace('/', ' ')} makes them for ${hosts.join(', ')} (a Certificate each, in Dormant's namespace); dormant certs ${name} shows them once issued.\n`);
      return undefined;
    }
    const eligible = acmeHostsOf(app, domain);
    const skipped = appClaims(app, domain).filter((host) => !eligible.includes(host));
    const listening = settings.running === undefined || settings.running.httpsPort !== undefined;
    const lines = [
      changed ? `ACME is on for ${name}.` : `ACME was on for ${name} already.`,
      eligible.length === 0
        ? ` None of its hosts can be certified by a public CA yet: add one with dormant domains add ${name} HOST.`
        : listening
          ? ` Certificates are ordered for ${eligible.join(', ')}${settings.running === undefined ? ' once dormant up runs with --https-port' : ''}; dormant certs ${name} shows them.`
          : ` Nothing is ordered yet: this dormant up has no HTTPS listener; start it with --https-port (443 in production), and certificates are ordered for ${eligible.join(', ')}.`,
      ...skipped.map((host) => `\n  not ${host}: ${acmeIneligible(host, domain)}`),
      '\n',
    ];
    context.io.stdout.write(lines.join(''));
    return undefined;
  },
};

export const certsAutoDisable: Command = {
  name: 'certs auto:disable',
  aliases: ['certs:auto:disable'],
  usage: 'dormant certs auto:disable APP',
  summary: 'Stop getting certificates for an app by ACME (those it has are served until they end)',
  args: 1,
  async run(context) {
    const [name = ''] = context.args;
    await certificatesOf(context, name);
    const { changed } = await setTls(context, name, 'acme', false);
    context.io.stdout.write(changed ? `ACME is off for ${name}; its certificates are served until they end, and not renewed.\n` : `ACME was off for ${name} already.\n`);
    return undefined;
  },
};

export const certsRedirect: Command = {
  name: 'certs redirect',
  usage: 'dormant certs redirect APP on|off',
  summary: 'Redirect plain HTTP requests to HTTPS (308) for the hosts that have a certificate',
  args: 2,
  async run(context) {
    const [name = '', state = ''] = context.args;
    if (state !== 'on' && state !== 'off') throw cliErrors.usage({ problem: `"${state.slice(0, 20)}" is neither on nor off`, usage: certsRedirect.usage });
    await certificatesOf(context, name);
    const { changed } = await setTls(context, name, 'redirectHttp', state === 'on');
    const word = state === 'on' ? 'redirected to HTTPS' : 'served as they come';
    context.io.stdout.write(`${changed ? '' : 'Already: '}plain HTTP requests to ${name} are ${word}${state === 'on' ? ' where a certificate covers the host' : ''}.\n`);
    return undefined;
  },
};
