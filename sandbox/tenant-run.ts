/**
 * A run of a tenant's code that is not a replica: a build step or a hook. It runs in the
 * same sandbox as the app's replicas, as the app's uid, and sees of Dormant's state folder
 * only what it is given: a build its release (written in place) and its app's build cache;
 * a hook the release through an overlay thrown away afterwards, and a home of its own.
 */
import { execFile } from 'node:child_process';
import { chown, lchown, lstat, mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { sandboxErrors } from './errors.js';
import type { HostSandbox } from './host-sandbox.js';
import { buildLimits, type CgroupLimits } from './limits.js';
import { type SandboxSpec, sandboxCommand, sandboxEnvInput, sandboxFstab, sandboxRootEnv } from './sandbox-command.js';

export interface TenantRun {
  readonly app: string;
  /** Dormant's own folder for this run (the sandbox's fstab, an overlay's upper layer); the run does not see it. */
  readonly folder: string;
  /** The release: written in place (a build), or seen through a writable overlay whose changes are thrown away (a hook). */
  readonly release: { readonly path: string; readonly writes: 'in-place' | 'overlay' };
  /** Further folders the run may write, given to the app's uid (a build cache, a home). */
  readonly writable: readonly string[];
  readonly cwd: string;
  /** Its cgroup limits; a build's by default (a one-off process of `dormant run` has its replicas'). */
  readonly limits?: CgroupLimits;
  /**
   * Run over an image's unpacked tree (a Dockerfile app's hook, a detected app's build or
   * hook over its stack) instead of the host's root: the release is then seen at
   * `workdir`, cwd is inside the image, and writable[i] at writableAt[i] (those beyond
   * its end are not bound). Needs HostSandbox.bwrap.
   */
  readonly image?: {
    readonly root: string;
    readonly uid: number;
    readonly gid: number;
    readonly workdir: string;
    readonly writableAt: readonly string[];
    /** Folders of Dormant's seen read-only (a Node runtime). */
    readonly readOnlyAt?: readonly { readonly from: string; readonly at: string }[];
  };
}

/** A command as the sandbox runs it: its argv and environment (root's, fixed), and what to write to its fd 3 (the tenant's environment). */
export interface ConfinedCommand {
  readonly argv: string[];
  readonly env: Readonly<Record<string, string>>;
  readonly input3: string;
}

/** Turns a command line and the environment it should see into one that runs it in the run's sandbox; spawn it detached. */
export type Confine = (command: readonly string[], env: Readonly<Record<string, string | undefined>>) => ConfinedCommand;

export interface TenantSandbox {
  readonly confine: Confine;
  /** Once its commands have ended: removes the run's folder and cgroups. */
  done(): Promise<void>;
}

const run = promisify(execFile);

/**
 * Gives the run's folders to the app's uid and writes its sandbox's fstab; returns what
 * turns each of its commands into a sandboxed one. A release written in place is given
 * whole (chown -R -h: its symbolic links themselves, never what they point to).
 */
export async function prepareTenantRun(sandbox: HostSandbox, tenantRun: TenantRun): Promise<TenantSandbox> {
  const uid = sandbox.ids.idOf(tenantRun.app);
  const overImage = tenantRun.image;
  if (overImage && !sandbox.bwrap) throw sandboxErrors.unavailable({ reason: `an image cannot run in the sandbox here: ${sandbox.imagesProblem ?? 'bubblewrap is missing'}` });
  const release = resolve(tenantRun.release.path);
  await mkdir(tenantRun.folder, { recursive: true, mode: 0o700 });
  for (const folder of tenantRun.writable) {
    await mkdir(folder, { recursive: true });
    // A folder the app owned before may have become a link to one of the host's: never given, never bound.
    if (!(await lstat(folder)).isDirectory()) throw sandboxErrors.unavailable({ reason: `${folder} is not a folder (a symbolic link?); remove it` });
    await lchown(folder, uid, uid);
  }
  let appFolder: SandboxSpec['appFolder'];
  const writable = [...tenantRun.writable];
  if (tenantRun.release.writes === 'in-place') {
    await run('chown', ['-R', '-h', '-P', `${uid}:${uid}`, release]).catch((error: Error) => {
      throw sandboxErrors.unavailable({ reason: `cannot give ${release} to the app's uid (${error.message})` });
    });
    writable.unshift(release);
  } else {
    const upper = join(tenantRun.folder, 'app', 'upper');
    const work = join(tenantRun.folder, 'app', 'work');
    await mkdir(upper, { recursive: true });
    await mkdir(work, { recursive: true });
    await chown(upper, uid, uid);
    appFolder = { release, upper, work, at: overImage ? overImage.workdir : release };
  }
  const fstab = join(tenantRun.folder, 'sandbox.fstab');
  const cgroupId = basename(tenantRun.folder);
  const cgroupProcs = sandbox.cgroups?.create(cgroupId, tenantRun.limits ?? buildLimits);
  // A release written in place is writable[0]: seen at the WORKDIR.
  const writableAt = overImage ? (tenantRun.release.writes === 'in-place' ? [overImage.workdir, ...overImage.writableAt] : overImage.writableAt) : [];
  const image: SandboxSpec['image'] =
    overImage && sandbox.bwrap ? { root: overImage.root, uid: overImage.uid, gid: overImage.gid, writableAt, bwrap: sandbox.bwrap, ...(overImage.readOnlyAt ? { readOnlyAt: overImage.readOnlyAt } : {}) } : undefined;
  // Over an image, its root cannot take an overlay: the WORKDIR '/' gets none.
  if (image && overImage?.workdir === '/') appFolder = undefined;
  const base = {
    uid,
    gid: uid,
    writable,
    hidden: sandbox.hidden,
    cwd: tenantRun.cwd,
    tools: sandbox.tools,
    ...(appFolder ? { appFolder } : {}),
    ...(cgroupProcs ? { cgroupProcs } : {}),
    ...(image ? { image } : {}),
  };
  try {
    await writeFile(fstab, sandboxFstab({ ...base, command: [] }), { mode: 0o600 });
  } catch (error) {
    sandbox.cgroups?.remove(cgroupId);
    throw error;
  }
  return {
    confine: (command, env) => ({ argv: sandboxCommand({ ...base, command }, fstab), env: sandboxRootEnv, input3: sandboxEnvInput(base, env) }),
    async done() {
      sandbox.cgroups?.remove(cgroupId);
      await rm(tenantRun.folder, { recursive: true, force: true });
    },
  };
}

/**
 * The host variables a build or hook gets (and nothing else of Dormant's environment):
 * locale and time zone, and how this machine reaches package registries (proxies, CA
 * certificates, registry mirrors), which every build needs and no secret of Dormant's is.
 */
export const tenantHostVariables: readonly string[] = [
  'PATH',
  'LANG',
  'LC_ALL',
  'TZ',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'NODE_EXTRA_CA_CERTS',
  'REQUESTS_CA_BUNDLE',
  'CURL_CA_BUNDLE',
  'PIP_CERT',
  'PIP_INDEX_URL',
  'PIP_EXTRA_INDEX_URL',
  'npm_config_registry',
  'NPM_CONFIG_REGISTRY',
  'YARN_NPM_REGISTRY_SERVER',
  'GOPROXY',
  'GOSUMDB',
  'GONOSUMDB',
  'GOPRIVATE',
  'MAVEN_OPTS',
];

/** The environment of a build or hook: the host's variables above, then the given ones over them. */
export function tenantEnv(host: Readonly<Record<string, string | undefined>>, own: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of tenantHostVariables) {
    const value = host[name];
    if (value !== undefined) env[name] = value;
  }
  return Object.assign(env, own);
}
