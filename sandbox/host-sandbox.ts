/**
 * What running tenants' code in sandboxes needs on this host, found and tried once at start:
 * root (to give each app its own uid and to mount), util-linux's setpriv, unshare and
 * mount, and overlayfs. A machine without them cannot sandbox; `dormant up` then refuses
 * to run tenants' code unless told --insecure-no-sandbox.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AppIds } from './app-ids.js';
import { sandboxErrors } from './errors.js';
import { HostCgroups } from './host-cgroups.js';
import { type SandboxSpec, sandboxCommand, sandboxFstab, sandboxRootEnv } from './sandbox-command.js';

export interface HostSandbox {
  readonly tools: SandboxSpec['tools'];
  /** Folders no tenant sees: Dormant's state folder (keys, repositories, every app), the host's home folders. */
  readonly hidden: readonly string[];
  readonly ids: AppIds;
  /** Where sandboxes are limited in memory, CPU and processes; none when the host offers no cgroup v1 controllers (limitsProblem says why). */
  readonly cgroups: HostCgroups | undefined;
  readonly limitsProblem: string | undefined;
  /** bubblewrap, which runs Dockerfile apps' images (SandboxSpec.image); none when missing or refused here (imagesProblem says why). */
  readonly bwrap: string | undefined;
  readonly imagesProblem: string | undefined;
}

const find = (names: readonly string[]) => names.find((path) => existsSync(path));

/** What a host offers a sandbox: its platform, Dormant's euid, and util-linux's programs found. */
export interface HostFacts {
  readonly platform: string;
  readonly euid: number | undefined;
  readonly tools: { readonly setpriv: string | undefined; readonly unshare: string | undefined; readonly mount: string | undefined };
  /** /proc/sys/fs/protected_hardlinks ("1": no hard link to a file one cannot write). */
  readonly protectedHardlinks?: string | undefined;
}

/** Why this host cannot sandbox, or undefined when it may (a test sandbox then decides). Pure. */
export function sandboxProblem(host: HostFacts): string | undefined {
  if (host.platform !== 'linux') return `it runs on ${host.platform}, not Linux`;
  if (host.euid !== 0) return 'dormant up does not run as root, so it cannot give each app a uid of its own';
  if (!host.tools.setpriv || !host.tools.unshare || !host.tools.mount) return 'util-linux setpriv, unshare and mount are not all installed (apt-get install util-linux mount)';
  // Else a build could hard-link a host file it cannot read into its release, which Dormant then packs into an image with root's rights.
  if (host.protectedHardlinks !== undefined && host.protectedHardlinks.trim() !== '1') return 'fs.protected_hardlinks is not 1 (sysctl -w fs.protected_hardlinks=1)';
  return undefined;
}

/** The sandbox for tenants' code on this host, or SANDBOX_UNAVAILABLE saying what is missing. */
export function openHostSandbox(stateDir: string): HostSandbox {
  const found = { setpriv: find(['/usr/bin/setpriv', '/bin/setpriv']), unshare: find(['/usr/bin/unshare', '/bin/unshare']), mount: find(['/usr/bin/mount', '/bin/mount']) };
  const protectedHardlinks = (() => {
    try {
      return readFileSync('/proc/sys/fs/protected_hardlinks', 'utf8');
    } catch {
      return undefined;
    }
  })();
  const problem = sandboxProblem({ platform: process.platform, euid: process.geteuid?.(), tools: found, protectedHardlinks });
  if (problem !== undefined || !found.setpriv || !found.unshare || !found.mount) throw sandboxErrors.unavailable({ reason: problem ?? 'util-linux is missing' });
  const tools = { setpriv: found.setpriv, unshare: found.unshare, mount: found.mount };
  const state = realpathSync(resolve(stateDir));
  const hidden = [...new Set([state, '/root', '/home', homedir()])].filter((path) => existsSync(path));
  tryOnce(tools);
  const bwrap = find(['/usr/bin/bwrap', '/bin/bwrap']);
  const imagesProblem = bwrap === undefined ? 'bubblewrap is not installed (apt-get install bubblewrap)' : tryOnce(tools, bwrap);
  const ids = AppIds.open(stateDir);
  const cgroups = HostCgroups.open(createHash('sha256').update(state).digest('hex').slice(0, 12));
  return {
    tools,
    hidden,
    ids,
    cgroups: cgroups instanceof HostCgroups ? cgroups : undefined,
    limitsProblem: cgroups instanceof HostCgroups ? undefined : cgroups.problem,
    bwrap: imagesProblem === undefined ? bwrap : undefined,
    imagesProblem,
  };
}

/**
 * Runs one sandbox over a scratch folder: namespaces, mounts and overlayfs all work, or
 * SANDBOX_UNAVAILABLE. With bwrap, one over an image's tree instead (the host's root stands
 * in for it): returns why it failed, as images can still run another way.
 */
function tryOnce(tools: SandboxSpec['tools'], bwrap?: string): string | undefined {
  const scratch = mkdtempSync(join(tmpdir(), 'dormant-sandbox-check-'));
  try {
    for (const folder of ['release', 'upper', 'work', 'home']) mkdirSync(join(scratch, folder));
    const spec: SandboxSpec = {
      uid: 65534,
      gid: 65534,
      appFolder: { release: join(scratch, 'release'), upper: join(scratch, 'upper'), work: join(scratch, 'work'), at: join(scratch, 'release') },
      writable: [join(scratch, 'home')],
      hidden: [],
      cwd: join(scratch, 'release'),
      command: ['/bin/true'],
      tools,
      ...(bwrap ? { image: { root: '/', uid: 0, gid: 0, writableAt: [], bwrap } } : {}),
    };
    writeFileSync(join(scratch, 'fstab'), sandboxFstab(spec));
    const [program = '', ...args] = sandboxCommand(spec, join(scratch, 'fstab'));
    // Its tenant environment (fd 3) is empty.
    const noEnv = openSync('/dev/null', 'r');
    let tried: ReturnType<typeof spawnSync>;
    try {
      tried = spawnSync(program, args, { env: sandboxRootEnv, stdio: ['ignore', 'ignore', 'pipe', noEnv], timeout: 10_000 });
    } finally {
      closeSync(noEnv);
    }
    if (tried.status !== 0) {
      const said = tried.error?.message ?? ((tried.stderr ?? '').toString().trim().split('\n')[0] || `exit ${tried.status}`);
      if (bwrap) return `a test sandbox under bubblewrap failed (${said})`;
      throw sandboxErrors.unavailable({ reason: `a test sandbox failed (${said})` });
    }
    return undefined;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
