import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { isIdentityAlive } from '../state-folder/index.js';
import { cliErrors } from './errors.js';
import type { Io } from './io.js';

/** Where `dormant up` listens and what apps are called; flags beat environment beat defaults. */
export interface Settings {
  readonly stateDir: string;
  readonly domain: string;
  readonly httpPort: number;
  readonly sshPort: number;
  readonly metricsPort: number;
}

export interface SettingFlags {
  readonly 'state-dir'?: string | undefined;
  readonly domain?: string | undefined;
  readonly 'http-port'?: string | undefined;
  readonly 'ssh-port'?: string | undefined;
  readonly 'metrics-port'?: string | undefined;
}

/** Written by a running `dormant up`, so other commands print the URLs it serves. */
export interface UpRecord {
  readonly pid: number;
  /** pid and start time, so a reused pid is not taken for a running dormant up. */
  readonly identity: string;
  readonly startedAt: string;
  readonly domain: string;
  readonly httpPort: number;
  /** The HTTPS listener's port, and where users reach it, when it runs (--https-port). */
  readonly httpsPort?: number;
  readonly publicHttpsPort?: number;
  /** Kubernetes with --cert-manager-issuer: cert-manager's issuer that makes the automatic certificates, as KIND/NAME. */
  readonly certManagerIssuer?: string;
  readonly sshPort: number;
  readonly metricsPort: number;
}

/**
 * Which runtime this state folder's `dormant up` uses, kept after it stops, so commands
 * such as `dormant apps` read the same store whether or not it runs.
 */
export interface RuntimeRecord {
  readonly runtime: 'local' | 'kubernetes';
  /** Given with --kubeconfig; absent: the default ($KUBECONFIG, ~/.kube/config). */
  readonly kubeconfig?: string;
  /** The domain it serves apps under, so the store refuses hosts by the same names. */
  readonly domain?: string;
  /** Kubernetes: the namespace of Dormant's own objects, where the apps' certificates are TLS Secrets. */
  readonly namespace?: string;
  /** Started with --insecure-no-sandbox: replicas run with Dormant's rights (said by `dormant apps`). */
  readonly unsandboxed?: true;
  /** Dockerfile apps' images run in the sandbox (else as podman containers), said by `dormant apps`. */
  readonly imagesInSandbox?: true;
}

export const runtimeRecordFile = (stateDir: string) => join(stateDir, 'runtime.json');

export async function readRuntimeRecord(stateDir: string): Promise<RuntimeRecord> {
  try {
    const record = JSON.parse(await readFile(runtimeRecordFile(stateDir), 'utf8')) as RuntimeRecord;
    const domain = typeof record.domain === 'string' ? { domain: record.domain } : {};
    return record.runtime === 'kubernetes' ? { ...record, ...domain, ...(typeof record.namespace === 'string' ? { namespace: record.namespace } : {}) } : { runtime: 'local', ...domain, ...(record.unsandboxed === true ? { unsandboxed: true } : {}), ...(record.imagesInSandbox === true ? { imagesInSandbox: true } : {}) };
  } catch {
    return { runtime: 'local' };
  }
}

export const upRecordFile = (stateDir: string) => join(stateDir, 'up.json');

export function resolveStateDir(flags: SettingFlags, io: Io): string {
  const chosen = flags['state-dir'] ?? io.env.DORMANT_HOME ?? '.dormant';
  return isAbsolute(chosen) ? chosen : resolve(io.cwd, chosen);
}

export function port(value: string | undefined, fallback: number, source: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw cliErrors.badPort({ source, value });
  return n;
}

export function resolveSettings(flags: SettingFlags, io: Io): Settings {
  return {
    stateDir: resolveStateDir(flags, io),
    domain: flags.domain ?? io.env.DORMANT_DOMAIN ?? 'localhost',
    httpPort: port(flags['http-port'] ?? io.env.DORMANT_HTTP_PORT, 8080, flags['http-port'] === undefined ? 'DORMANT_HTTP_PORT' : '--http-port'),
    sshPort: port(flags['ssh-port'] ?? io.env.DORMANT_SSH_PORT, 2222, flags['ssh-port'] === undefined ? 'DORMANT_SSH_PORT' : '--ssh-port'),
    metricsPort: port(
      flags['metrics-port'] ?? io.env.DORMANT_METRICS_PORT,
      9090,
      flags['metrics-port'] === undefined ? 'DORMANT_METRICS_PORT' : '--metrics-port',
    ),
  };
}

/** Settings of the running `dormant up` if there is one, else what it would use. */
export async function currentSettings(flags: SettingFlags, io: Io): Promise<Settings & { running: UpRecord | undefined }> {
  const settings = resolveSettings(flags, io);
  const running = await readUpRecord(settings.stateDir);
  return running ? { ...settings, ...running, stateDir: settings.stateDir, running } : { ...settings, running: undefined };
}

export async function readUpRecord(stateDir: string): Promise<UpRecord | undefined> {
  try {
    const record = JSON.parse(await readFile(upRecordFile(stateDir), 'utf8')) as UpRecord;
    return isIdentityAlive(record.identity ?? String(record.pid)) ? record : undefined;
  } catch {
    return undefined;
  }
}

/** The http:// URL of a host, at the port users reach dormant up's HTTP at. */
export const hostUrl = (s: Pick<Settings, 'httpPort'>, host: string) => `http://${host}${s.httpPort === 80 ? '' : `:${s.httpPort}`}`;
export const appUrl = (s: Pick<Settings, 'domain' | 'httpPort'>, app: string) => hostUrl(s, `${app}.${s.domain}`);
export const httpsUrl = (s: { readonly domain: string; readonly httpsPort: number }, app: string, host = `${app}.${s.domain}`) => `https://${host}${s.httpsPort === 443 ? '' : `:${s.httpsPort}`}`;
export const gitRemote = (s: Pick<Settings, 'sshPort'>, app: string) => `ssh://git@localhost:${s.sshPort}/${app}`;
