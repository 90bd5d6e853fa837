/**
 * An app's hosts (Heroku's domains): its own address `<app>.<domain>`, and the names added
 * to its spec.routes.hosts. A host belongs to one app: the store refuses a taken one.
 */
import { type App, appClaims, appHost, normalizeHost, reservedHost } from '../../crds/index.js';
import { isDormantError } from '../../errors/index.js';
import { updateWithRetry } from '../../runtime/index.js';
import { acmeCertificateId, acmeIneligible, chooseCertificate } from '../../tls/index.js';
import { certificateStoreOf } from './certs.js';
import type { Command, CommandContext } from '../command.js';
import { cliErrors } from '../errors.js';
import { formatTable, print } from '../output.js';
import { currentSettings, hostUrl, httpsUrl, readRuntimeRecord } from '../settings.js';

const hostPattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A host as typed, made the way Dormant compares hosts, or a usage error saying what a host is. */
function hostArgument(text: string, usage: string): string {
  const host = normalizeHost(text);
  if (host.length > 253 || !hostPattern.test(host) || text.includes('/') || text.includes(':')) {
    throw cliErrors.usage({ problem: `"${text.slice(0, 80)}" is not a host name (lower-case labels of letters, digits and -, such as shop.example.com; no scheme, port or path)`, usage });
  }
  return host;
}

async function domainOf(context: CommandContext): Promise<string> {
  const settings = await currentSettings(context.flags, context.io);
  return (await readRuntimeRecord(context.stateDir)).domain ?? settings.domain;
}

export const domainsList: Command = {
  name: 'domains',
  aliases: ['domains list'],
  usage: 'dormant domains APP [-o json|yaml]',
  summary: "List an app's hosts, and the certificate each is served with over HTTPS",
  args: 1,
  async run(context) {
    const { io, args, output, stateDir } = context;
    const [name = ''] = args;
    const store = await context.store();
    const app = await store.get('App', name);
    const settings = await currentSettings(context.flags, io);
    const domain = await domainOf(context);
    // Where this identity may not read certificates (gitd's pod in the cluster install), the hosts are listed without them.
    let unreadable = false;
    const listed = await (await certificateStoreOf(stateDir)).list(name).catch((error: unknown) => {
      if (!isDormantError(error, 'RUNTIME_CERTIFICATES_FORBIDDEN')) throw error;
      unreadable = true;
      return [];
    });
    const held = listed.filter((c) => c.appUid === app.metadata.uid);
    const now = io.now().getTime();
    const httpsPort = settings.running?.publicHttpsPort ?? settings.running?.httpsPort;
    const rows = appClaims(app, domain).map((host) => {
      const certificate = chooseCertificate(held, host, now);
      const own = host === appHost(name, domain);
      return {
        host,
        kind: own ? 'address' : 'custom',
        url: hostUrl(settings, host),
        ...(httpsPort === undefined || certificate === undefined ? {} : { httpsUrl: httpsUrl({ domain, httpsPort }, name, host) }),
        certificate: certificate === undefined ? null : { name: certificate.id, source: certificate.source, notAfter: new Date(certificate.notAfter).toISOString() },
      };
    });
    print(io, output, { app: name, hosts: rows, ...(unreadable ? { certificates: 'unreadable here' } : {}) }, () =>
      formatTable(
        ['HOST', 'KIND', 'URL', 'CERTIFICATE'],
        rows.map((row) => [row.host, row.kind, row.httpsUrl ?? row.url, unreadable ? '? (not readable here)' : row.certificate === null ? (app.spec.tls?.acme === true ? 'acme: pending' : '-') : `${row.certificate.name} (${row.certificate.source}, until ${row.certificate.notAfter.slice(0, 10)})`]),
      ),
    );
    return undefined;
  },
};

async function changeHosts(context: CommandContext, name: string, change: (hosts: string[]) => string[]): Promise<App> {
  const store = await context.store();
  return updateWithRetry(async () => {
    const app = await store.get('App', name);
    return store.update({ ...app, spec: { ...app.spec, routes: { ...app.spec.routes, hosts: change([...app.spec.routes.hosts]) } } });
  });
}

export const domainsAdd: Command = {
  name: 'domains add',
  aliases: ['domains:add'],
  usage: 'dormant domains add APP HOST   (point HOST\'s DNS at this machine; a host belongs to one app)',
  summary: 'Serve an app at one more host name',
  args: 2,
  async run(context) {
    const [name = '', text = ''] = context.args;
    const host = hostArgument(text, domainsAdd.usage);
    const domain = await domainOf(context);
    const reserved = reservedHost(host, domain);
    if (reserved !== undefined) throw cliErrors.usage({ problem: `${host} cannot be an app's host: ${reserved}`, usage: domainsAdd.usage });
    if (host === appHost(name, domain)) {
      context.io.stdout.write(`${host} is ${name}'s own address already.\n`);
      return undefined;
    }
    let added = false;
    const app = await changeHosts(context, name, (hosts) => {
      added = !hosts.includes(host);
      return added ? [...hosts, host] : hosts;
    });
    const settings = await currentSettings(context.flags, context.io);
    const certManager = settings.running?.certManagerIssuer;
    const acme = app.spec.tls?.acme === true ? (certManager !== undefined ? undefined : (acmeIneligible(host, domain) ?? (settings.running?.httpsPort === undefined ? 'no dormant up with --https-port runs' : undefined))) : 'off';
    const gets = certManager !== undefined ? ` (cert-manager's ${certManager.replace('/', ' ')} makes its certificate)` : ' (ACME gets its certificate now)';
    context.io.stdout.write(
      added
        ? `Added ${host} to ${name}: ${hostUrl(settings, host)}${acme === undefined ? gets : acme === 'off' ? '' : ` (no ACME certificate: ${acme})`}\n`
        : `${host} is ${name}'s already.\n`,
    );
    return undefined;
  },
};

export const domainsRemove: Command = {
  name: 'domains remove',
  aliases: ['domains:remove'],
  usage: 'dormant domains remove APP HOST',
  summary: 'Stop serving an app at a host it was added to',
  args: 2,
  async run(context) {
    const [name = '', text = ''] = context.args;
    const host = hostArgument(text, domainsRemove.usage);
    const domain = await domainOf(context);
    if (host === appHost(name, domain)) throw cliErrors.usage({ problem: `${host} is ${name}'s own address, which every app keeps; remove hosts added with dormant domains add`, usage: domainsRemove.usage });
    const store = await context.store();
    await updateWithRetry(async () => {
      const current = await store.get('App', name);
      if (!current.spec.routes.hosts.includes(host)) throw cliErrors.noSuchHost({ app: name, host });
      return store.update({ ...current, spec: { ...current.spec, routes: { ...current.spec.routes, hosts: current.spec.routes.hosts.filter((h) => h !== host) } } });
    });
    // The certificate ACME got for it goes too: it would serve nothing, and count towards the app's limit.
    // By its name, without reading: any App of this name's certificate for the host serves nothing now. The host is removed whatever becomes of it.
    const dropped = await (await certificateStoreOf(context.stateDir)).remove(name, acmeCertificateId(host)).catch((error: unknown) => {
      if (!isDormantError(error, 'RUNTIME_CERTIFICATES_FORBIDDEN')) throw error;
      context.io.stderr.write(`warning: its automatic certificate, if any, is left: ${error.message}\n`);
      return false;
    });
    context.io.stdout.write(`Removed ${host} from ${name}: requests for it are now answered 404${dropped ? ', and its ACME certificate is removed' : ''}.\n`);
    return undefined;
  },
};
