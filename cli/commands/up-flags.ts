/**
 * `dormant up`'s flags: each read from the flag, else its DORMANT_* variable, else its
 * default, and checked before anything starts, so a bad value changes nothing. Every limit
 * Dormant enforces on what clients send is set here (README, "Limits").
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { defaultMaxHeaderCount } from '../../activator/index.js';
import { parseDuration } from '../../crds/index.js';
import { defaultLoginLimits, type MaxStartups, parseMaxStartups } from '../../gitd/index.js';
import { type Flags, flagString } from '../command.js';
import { cliErrors } from '../errors.js';
import type { Io } from '../io.js';
import { port } from '../settings.js';

export const upUsage =
  'dormant up [--runtime local|kubernetes] [--kubeconfig FILE] [--component activator,autoscaler,gitd] [--listen-host 127.0.0.1] [--autoscaler-port 9091] [--advertise-host HOST] [--lease-namespace default] [--state-dir DIR] [--domain localhost] [--http-port 8080] [--ssh-port 2222] [--metrics-port 9090] [--public-port PORT] [--https-port PORT] [--public-https-port PORT] [--acme-directory URL] [--acme-email EMAIL] [--acme-ca FILE] [--cert-manager-issuer [ClusterIssuer/|Issuer/]NAME] [--registry 127.0.0.1:5000] [--drain 0s] [--build-timeout 20m] [--hook-timeout 10m] [--max-pack-mb 200] [--max-object-mb 100] [--max-push-mb 2048] [--max-refs-per-push 1000] [--max-objects-per-push 100000] [--max-delta-depth 50] [--max-header-count 100] [--max-header-kb 16] [--headers-timeout 30s] [--ssh-login-grace 30s] [--ssh-max-startups 10:30:100] [--ssh-max-auth-tries 6] [--warm-sandboxes 64] [--insecure-no-sandbox]';

const flagNames = [
  'domain',
  'http-port',
  'ssh-port',
  'metrics-port',
  'public-port',
  'https-port',
  'public-https-port',
  'acme-directory',
  'acme-email',
  'acme-ca',
  'cert-manager-issuer',
  'registry',
  'runtime',
  'kubeconfig',
  'component',
  'listen-host',
  'autoscaler-port',
  'advertise-host',
  'lease-namespace',
  'drain',
  'build-timeout',
  'hook-timeout',
  'max-pack-mb',
  'max-object-mb',
  'max-push-mb',
  'max-refs-per-push',
  'max-objects-per-push',
  'max-delta-depth',
  'max-header-count',
  'max-header-kb',
  'headers-timeout',
  'ssh-login-grace',
  'ssh-max-startups',
  'ssh-max-auth-tries',
  'warm-sandboxes',
] as const;

export const upOptions: Record<(typeof flagNames)[number], { type: 'string' }> & { 'insecure-no-sandbox': { type: 'boolean' } } = {
  ...(Object.fromEntries(flagNames.map((name) => [name, { type: 'string' }])) as Record<(typeof flagNames)[number], { type: 'string' }>),
  'insecure-no-sandbox': { type: 'boolean' },
};

const runtimeNames = ['local', 'kubernetes'] as const;
export type RuntimeName = (typeof runtimeNames)[number];
export const splittable = ['activator', 'autoscaler', 'gitd'] as const;
export type Splittable = (typeof splittable)[number];

const MiB = 1024 * 1024;
// Node's timers hold at most 2^31-1 ms (24.8 days); beyond, they fire at once.
const longestTimerMs = 2_147_483_647;

/** Every setting of `dormant up` but the shared ones (state folder, domain, ports: settings.ts). */
export interface UpFlags {
  readonly runtime: RuntimeName;
  readonly kubeconfig: string | undefined;
  readonly components: ReadonlySet<Splittable>;
  readonly imageRegistry: string | undefined;
  readonly listenHost: string;
  readonly autoscalerPort: number;
  readonly advertiseHost: string;
  readonly leaseNamespace: string;
  readonly publicPort: number;
  /** The HTTPS listener (--https-port), and the port users reach it at; undefined: no HTTPS. */
  readonly https: { readonly port: number; readonly publicPort: number } | undefined;
  /** The ACME server that apps with spec.tls.acme get certificates from. */
  readonly acme: { readonly directoryUrl: string; readonly email?: string; readonly caFile?: string };
  /** On Kubernetes: cert-manager's issuer that makes those certificates instead (a ClusterIssuer, or an Issuer in Dormant's namespace). */
  readonly certManagerIssuer: { readonly kind: 'ClusterIssuer' | 'Issuer'; readonly name: string } | undefined;
  readonly drainMs: number;
  readonly buildTimeoutMs: number;
  readonly hookTimeoutMs: number;
  /** Run tenants' replicas without a sandbox (a machine that cannot sandbox, used by one person only); said at start. */
  readonly insecureNoSandbox: boolean;
  /** How many sandboxes the local runtime makes ahead of need, one per app at most; 0: none. */
  readonly warmSandboxes: number;
  /** What one push may send and cost (gitd). */
  readonly push: { readonly maxPackBytes: number; readonly maxObjectBytes: number; readonly maxPushBytes: number; readonly maxRefsPerPush: number; readonly maxObjectsPerPush: number; readonly maxDeltaDepth: number };
  /** What one request's head may be (activator). */
  readonly requestHead: { readonly maxHeaderCount: number; readonly maxHeaderSize: number; readonly headersTimeoutMs: number };
  readonly sshLogin: { readonly loginGraceMs: number; readonly maxStartups: MaxStartups; readonly maxAuthTries: number };
}

const textOf = (flags: Flags, io: Io, flag: string, env: string): string | undefined => flagString(flags, flag) ?? io.env[env];

/** A number flag: positive, whole when asked, and within [min, max] when a max is given. */
function numberFlag(flags: Flags, io: Io, spec: { flag: string; env: string; fallback: number; unit: string; whole?: boolean; min?: number; max?: number }): number {
  const text = textOf(flags, io, spec.flag, spec.env);
  if (text === undefined) return spec.fallback;
  const value = Number(text);
  const min = spec.min ?? Number.MIN_VALUE;
  if (text.trim() === '' || !Number.isFinite(value) || value < min || (spec.max !== undefined && value > spec.max) || (spec.whole === true && !Number.isInteger(value))) {
    const wanted = spec.max === undefined ? `a positive ${spec.unit}` : `a ${spec.whole === true ? 'whole ' : ''}number from ${min} to ${spec.max}`;
    throw cliErrors.usage({ problem: `--${spec.flag} must be ${wanted}, got "${text}"`, usage: upUsage });
  }
  return value;
}

/** A duration flag (30s, 10m): above zero and at most maxMs; `range` and `example` word the refusal. */
function durationFlag(flags: Flags, io: Io, spec: { flag: string; env: string; fallbackMs: number; maxMs: number; range: string; example: string }): number {
  const text = textOf(flags, io, spec.flag, spec.env);
  if (text === undefined) return spec.fallbackMs;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0 || ms > spec.maxMs) throw cliErrors.usage({ problem: `--${spec.flag} must be a duration ${spec.range} such as ${spec.example}, got "${text}"`, usage: upUsage });
  return ms;
}

/** --drain: how long a stopping activator keeps answering; 0 (the default) stops at once. */
function drainFlag(flags: Flags, io: Io): number {
  const text = textOf(flags, io, 'drain', 'DORMANT_DRAIN');
  if (text === undefined || text === '' || text === '0') return 0;
  return durationFlag(flags, io, { flag: 'drain', env: 'DORMANT_DRAIN', fallbackMs: 0, maxMs: 10 * 60_000, range: 'up to 10m', example: '10s' });
}

function runtimeFlag(flags: Flags, io: Io): RuntimeName {
  const text = flagString(flags, 'runtime') ?? io.env.DORMANT_RUNTIME ?? 'local';
  if ((runtimeNames as readonly string[]).includes(text)) return text as RuntimeName;
  throw cliErrors.usage({ problem: `--runtime takes local or kubernetes, got "${text}"`, usage: upUsage });
}

/** --component: which of activator, autoscaler, gitd this process runs (all by default; split only on Kubernetes). */
function componentsFlag(flags: Flags, io: Io, runtime: RuntimeName): ReadonlySet<Splittable> {
  const text = flagString(flags, 'component') ?? io.env.DORMANT_COMPONENTS;
  if (text === undefined || text === '' || text === 'all') return new Set(splittable);
  const names = text.split(',').map((n) => n.trim());
  const unknown = names.filter((n) => !(splittable as readonly string[]).includes(n));
  if (unknown.length > 0) throw cliErrors.usage({ problem: `--component takes ${splittable.join(', ')} (comma-separated) or all, not ${unknown.join(', ')}`, usage: upUsage });
  if (runtime !== 'kubernetes') throw cliErrors.usage({ problem: 'components run apart only on Kubernetes (--runtime kubernetes); the local runtime runs them all in one process', usage: upUsage });
  return new Set(names as Splittable[]);
}

/** --cert-manager-issuer: NAME (a ClusterIssuer), ClusterIssuer/NAME or Issuer/NAME; Kubernetes only. */
function certManagerIssuerFlag(flags: Flags, io: Io, runtime: RuntimeName): UpFlags['certManagerIssuer'] {
  const text = textOf(flags, io, 'cert-manager-issuer', 'DORMANT_CERT_MANAGER_ISSUER');
  if (text === undefined || text === '') return undefined;
  if (runtime !== 'kubernetes') throw cliErrors.usage({ problem: '--cert-manager-issuer works on Kubernetes only (--runtime kubernetes), where cert-manager runs; the local runtime orders certificates itself (--acme-directory)', usage: upUsage });
  const [first, second, ...rest] = text.split('/');
  // As kubectl takes kinds: clusterissuer/NAME too.
  const kinds: Record<string, 'ClusterIssuer' | 'Issuer'> = { clusterissuer: 'ClusterIssuer', issuer: 'Issuer' };
  const kind = second === undefined ? 'ClusterIssuer' : kinds[(first ?? '').toLowerCase()];
  const name = second ?? first ?? '';
  // A Kubernetes object's name (a DNS subdomain).
  if (rest.length > 0 || kind === undefined || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) {
    throw cliErrors.usage({ problem: `--cert-manager-issuer takes NAME (a ClusterIssuer), ClusterIssuer/NAME or Issuer/NAME (an Issuer in Dormant's namespace), got "${text.slice(0, 200)}"`, usage: upUsage });
  }
  return { kind, name };
}

/** --registry: host[:port] of a registry spoken to over plain HTTP. */
function registryFlag(flags: Flags, io: Io): string | undefined {
  const text = flagString(flags, 'registry') ?? io.env.DORMANT_REGISTRY;
  if (text === undefined || text === '') return undefined;
  if (!/^[a-z0-9.-]+(:\d{1,5})?$/i.test(text)) {
    throw cliErrors.usage({ problem: `--registry takes host[:port] without a scheme, such as 127.0.0.1:5000, got "${text}"`, usage: upUsage });
  }
  return text;
}

function sshLoginFlags(flags: Flags, io: Io): UpFlags['sshLogin'] {
  const loginGraceMs = durationFlag(flags, io, { flag: 'ssh-login-grace', env: 'DORMANT_SSH_LOGIN_GRACE', fallbackMs: defaultLoginLimits.graceMs, maxMs: 3_600_000, range: 'up to 1h', example: '30s' });
  const startupsText = textOf(flags, io, 'ssh-max-startups', 'DORMANT_SSH_MAX_STARTUPS');
  const maxStartups = startupsText === undefined ? defaultLoginLimits.maxStartups : parseMaxStartups(startupsText);
  if (typeof maxStartups === 'string') throw cliErrors.usage({ problem: `--ssh-max-startups ${maxStartups}`, usage: upUsage });
  const maxAuthTries = numberFlag(flags, io, { flag: 'ssh-max-auth-tries', env: 'DORMANT_SSH_MAX_AUTH_TRIES', fallback: defaultLoginLimits.maxAuthTries, unit: 'number', whole: true, min: 1, max: 100 });
  return { loginGraceMs, maxStartups, maxAuthTries };
}

/** Let's Encrypt's production directory: what --acme-directory is unless given. */
export const letsEncryptDirectory = 'https://acme-v02.api.letsencrypt.org/directory';

function httpsFlags(flags: Flags, io: Io, httpPort: number): UpFlags['https'] {
  const text = flagString(flags, 'https-port') ?? io.env.DORMANT_HTTPS_PORT;
  if (text === undefined || text === '' || text === 'off') return undefined;
  const listening = port(text, 8443, '--https-port');
  if (listening === httpPort && listening !== 0) throw cliErrors.usage({ problem: `--https-port and --http-port are both ${listening}; HTTPS needs a port of its own, such as 8443 (443 in production)`, usage: upUsage });
  return { port: listening, publicPort: port(flagString(flags, 'public-https-port') ?? io.env.DORMANT_PUBLIC_HTTPS_PORT, listening, '--public-https-port') };
}

function acmeFlags(flags: Flags, io: Io): UpFlags['acme'] {
  const directoryUrl = flagString(flags, 'acme-directory') ?? io.env.DORMANT_ACME_DIRECTORY ?? letsEncryptDirectory;
  if (!/^https:\/\/[^\s/]+(\/\S*)?$/.test(directoryUrl)) throw cliErrors.usage({ problem: `--acme-directory takes the https:// URL of an ACME directory, such as ${letsEncryptDirectory}, got "${directoryUrl.slice(0, 200)}"`, usage: upUsage });
  const email = flagString(flags, 'acme-email') ?? io.env.DORMANT_ACME_EMAIL;
  if (email !== undefined && !/^[^\s@]+@[^\s@]+$/.test(email)) throw cliErrors.usage({ problem: `--acme-email takes an e-mail address, got "${email.slice(0, 200)}"`, usage: upUsage });
  const caFile = flagString(flags, 'acme-ca') ?? io.env.DORMANT_ACME_CA;
  return { directoryUrl, ...(email === undefined ? {} : { email }), ...(caFile === undefined ? {} : { caFile: resolve(io.cwd, caFile) }) };
}

/** Reads and checks every flag of `dormant up`; `httpPort` is the activator's own (--public-port defaults to it). */
export function readUpFlags(flags: Flags, io: Io, httpPort: number): UpFlags {
  const runtime = runtimeFlag(flags, io);
  const imageRegistry = registryFlag(flags, io);
  if (runtime === 'kubernetes' && imageRegistry === undefined) {
    throw cliErrors.usage({ problem: 'the Kubernetes runtime runs images: give it a registry the cluster pulls from, such as --registry 127.0.0.1:5000', usage: upUsage });
  }
  // A file given with --kubeconfig; otherwise client-node's default ($KUBECONFIG, which may list several files, or ~/.kube/config).
  const kubeconfigFlag = flagString(flags, 'kubeconfig');
  const listenHost = flagString(flags, 'listen-host') ?? io.env.DORMANT_LISTEN_HOST ?? '127.0.0.1';
  const mib = (flag: string, env: string, fallback: number) => numberFlag(flags, io, { flag, env, fallback, unit: 'number of MiB' }) * MiB;
  return {
    runtime,
    kubeconfig: kubeconfigFlag === undefined ? undefined : resolve(io.cwd, kubeconfigFlag),
    components: componentsFlag(flags, io, runtime),
    imageRegistry,
    listenHost,
    autoscalerPort: port(flagString(flags, 'autoscaler-port') ?? io.env.DORMANT_AUTOSCALER_PORT, 9091, '--autoscaler-port'),
    advertiseHost: flagString(flags, 'advertise-host') ?? io.env.POD_IP ?? (listenHost === '0.0.0.0' ? hostname() : listenHost),
    leaseNamespace: flagString(flags, 'lease-namespace') ?? io.env.DORMANT_LEASE_NAMESPACE ?? io.env.POD_NAMESPACE ?? 'default',
    // Where users reach the activator, for the URLs Dormant prints and records: a NodePort or load balancer in front of it may differ from --http-port.
    publicPort: port(flagString(flags, 'public-port') ?? io.env.DORMANT_PUBLIC_PORT, httpPort, '--public-port'),
    https: httpsFlags(flags, io, httpPort),
    acme: acmeFlags(flags, io),
    certManagerIssuer: certManagerIssuerFlag(flags, io, runtime),
    drainMs: drainFlag(flags, io),
    buildTimeoutMs: durationFlag(flags, io, { flag: 'build-timeout', env: 'DORMANT_BUILD_TIMEOUT', fallbackMs: 20 * 60_000, maxMs: longestTimerMs, range: 'from 1s to 24d', example: '20m' }),
    hookTimeoutMs: durationFlag(flags, io, { flag: 'hook-timeout', env: 'DORMANT_HOOK_TIMEOUT', fallbackMs: 10 * 60_000, maxMs: longestTimerMs, range: 'from 1s to 24d', example: '10m' }),
    insecureNoSandbox: flags['insecure-no-sandbox'] === true || io.env.DORMANT_INSECURE_NO_SANDBOX === '1',
    warmSandboxes: numberFlag(flags, io, { flag: 'warm-sandboxes', env: 'DORMANT_WARM_SANDBOXES', fallback: 64, unit: 'number', whole: true, min: 0, max: 1000 }),
    push: {
      maxPackBytes: mib('max-pack-mb', 'DORMANT_MAX_PACK_MB', 200),
      maxObjectBytes: mib('max-object-mb', 'DORMANT_MAX_OBJECT_MB', 100),
      maxPushBytes: mib('max-push-mb', 'DORMANT_MAX_PUSH_MB', 2048),
      maxRefsPerPush: numberFlag(flags, io, { flag: 'max-refs-per-push', env: 'DORMANT_MAX_REFS_PER_PUSH', fallback: 1000, unit: 'whole number', whole: true }),
      maxObjectsPerPush: numberFlag(flags, io, { flag: 'max-objects-per-push', env: 'DORMANT_MAX_OBJECTS_PER_PUSH', fallback: 100_000, unit: 'whole number', whole: true }),
      maxDeltaDepth: numberFlag(flags, io, { flag: 'max-delta-depth', env: 'DORMANT_MAX_DELTA_DEPTH', fallback: 50, unit: 'whole number', whole: true }),
    },
    requestHead: {
      // An app keeps only its first headers (a Node app 1,000): more would be dropped there without a word.
      maxHeaderCount: numberFlag(flags, io, { flag: 'max-header-count', env: 'DORMANT_MAX_HEADER_COUNT', fallback: defaultMaxHeaderCount, unit: 'number', whole: true, min: 1, max: 1000 }),
      maxHeaderSize: numberFlag(flags, io, { flag: 'max-header-kb', env: 'DORMANT_MAX_HEADER_KB', fallback: 16, unit: 'number', whole: true, min: 1, max: 1024 }) * 1024,
      headersTimeoutMs: durationFlag(flags, io, { flag: 'headers-timeout', env: 'DORMANT_HEADERS_TIMEOUT', fallbackMs: 30_000, maxMs: 10 * 60_000, range: 'up to 10m', example: '30s' }),
    },
    sshLogin: sshLoginFlags(flags, io),
  };
}
