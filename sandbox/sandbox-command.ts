/**
 * The command line that runs a tenant's command in a sandbox, as a pure function of what
 * the sandbox holds. The sandbox is made of util-linux's setpriv and unshare and the
 * kernel's mounts, no daemon:
 *
 * - setpriv gives it a parent-death signal, so it dies with Dormant, even by SIGKILL;
 * - unshare gives it PID, mount, IPC and UTS namespaces of its own, and its own /proc:
 *   no other app's processes, environments or signals;
 * - a root shell as the namespace's first process joins the sandbox's cgroups (its
 *   limits, host-cgroups.ts), makes the mounts, then starts the command as the app's own
 *   unprivileged uid and gid, without capabilities and with no_new_privs (setuid
 *   programs gain nothing), and waits for it. The command is not
 *   that first process, because the kernel drops the signals of a namespace's first
 *   process that it has no handler for: the app would ignore the SIGTERM that drains it.
 *   In the same process group, the app gets Dormant's signals directly; unshare, its
 *   parent, lets SIGTERM pass to its child and waits;
 * - the mounts: a private /tmp, /var/tmp and /dev/shm; each hidden path (Dormant's state
 *   folder with its keys, repositories and every other app, the host's home folders)
 *   covered by an empty tmpfs; then the app folder put back at its own path as an overlay
 *   of the release (read-only below, writable above, the upper layer thrown away with
 *   the replica, as a container's is), and the replica's home folder.
 *
 * The network is the host's (the activator reaches replicas on loopback): what Dormant
 * serves on loopback is guarded by its admin token.
 */

export interface SandboxSpec {
  /** The app's own uid and gid: never root, never shared with another app. */
  readonly uid: number;
  readonly gid: number;
  /** The release (read-only) and where the app sees it, writable through an overlay; none for a build, which writes its release in place. */
  readonly appFolder?: { readonly release: string; readonly upper: string; readonly work: string; readonly at: string };
  /** Writable folders bound at their own paths (the replica's home; a build's release and cache). */
  readonly writable: readonly string[];
  /** Existing folders covered by an empty tmpfs before the app folder and writable ones are put back. */
  readonly hidden: readonly string[];
  /** The cgroup.procs files (host-cgroups.ts) the sandbox joins before the command starts, so all it starts is limited. */
  readonly cgroupProcs?: readonly string[];
  /**
   * Prepared ahead (a warm sandbox): namespaces, cgroups, mounts, the drop to the app's uid
   * (and bubblewrap's root over an image) are made at once, with the environment, and only
   * the command's own start waits: for a line on file descriptor 4 (an end of input
   * instead: the host's sandbox exits; Dormant kills a discarded one).
   */
  readonly gated?: boolean;
  /**
   * Run over an image's unpacked tree instead of the host's root (a Dockerfile app): after
   * the root part, bubblewrap (as the app's uid, in a user namespace of its own) makes the
   * tree the root, read-only, with its own /proc, /dev and /tmp, the app folder
   * (appFolder, its `at` the image's WORKDIR) and the writable folders (writable[i] at
   * writableAt[i]: a replica's home; a build's release, cache and home) writable; the
   * command is the image's, found in the tree. The host's root is gone from its view
   * (pivot_root), not only covered.
   */
  readonly image?: {
    readonly root: string;
    /** The image's user inside the sandbox (mapped to uid and gid above). */
    readonly uid: number;
    readonly gid: number;
    /** Where each writable folder appears inside, in order; those beyond its end are not bound. A path inside the read-only tree must exist there (/tmp's are made). */
    readonly writableAt: readonly string[];
    /** Folders of Dormant's seen read-only inside (a Node runtime at /opt/node); each `at` must exist in the tree. */
    readonly readOnlyAt?: readonly { readonly from: string; readonly at: string }[];
    readonly bwrap: string;
  };
  /** Where the command starts (inside the image's tree for an image). */
  readonly cwd: string;
  readonly command: readonly string[];
  /** util-linux's programs (found once at start). */
  readonly tools: { readonly setpriv: string; readonly unshare: string; readonly mount: string };
}

/**
 * The environment the sandbox's root part starts with, whatever the tenant's: setpriv,
 * unshare, the root shell and mount run as root, and the loader honours LD_PRELOAD and
 * its kin for any program that is not setuid. The tenant's variables reach only the
 * command, after root is dropped: written by Dormant to file descriptor 3 (sandboxEnvScript).
 */
export const sandboxRootEnv: Readonly<Record<string, string>> = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

const variableName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The tenant's environment as what the unprivileged shell evaluates from file descriptor 3: one export per variable, quoted. Pure. */
export function sandboxEnvScript(env: Readonly<Record<string, string | undefined>>): string {
  let script = '';
  for (const [name, value] of Object.entries(env)) if (value !== undefined && variableName.test(name)) script += `export ${name}=${shellWord(value)}\n`;
  return script;
}

/**
 * The tenant's environment for an image's sandbox: bubblewrap's own arguments, read from
 * fd 3 (`--args 3`, NUL-separated) by bubblewrap running as the app's uid, never seen by a
 * root process. Pure.
 */
export function sandboxEnvArgs(env: Readonly<Record<string, string | undefined>>): string {
  let args = '--clearenv\0';
  for (const [name, value] of Object.entries(env)) if (value !== undefined && variableName.test(name) && !value.includes('\0')) args += `--setenv\0${name}\0${value}\0`;
  return args;
}

/** What fd 3 of the sandbox gets: the tenant's environment, as the spec's last step reads it. Pure. */
export function sandboxEnvInput(spec: Pick<SandboxSpec, 'image'>, env: Readonly<Record<string, string | undefined>>): string {
  return spec.image ? sandboxEnvArgs(env) : sandboxEnvScript(env);
}

/** After setpriv: the tenant's variables from fd 3 (until its end), fd 3 closed, then the command in place of this shell. */
const unprivilegedStart = 'eval "$(/bin/cat <&3)"; exec 3<&-; exec "$@"';
/** The same, gated: the command starts once a line arrives on fd 4. */
const gatedUnprivilegedStart = 'eval "$(/bin/cat <&3)"; exec 3<&-; read -r _ <&4 || exit 0; exec 4<&-; exec "$@"';

/** A word for /bin/sh: single-quoted, with its single quotes spelled out. */
export function shellWord(text: string): string {
  return `'${text.replaceAll("'", `'"'"'`)}'`;
}

/** A field of an fstab line: spaces, tabs, newlines and backslashes as octal escapes, as fstab(5) reads them. */
export function fstabField(text: string): string {
  return text.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/** Folders every sandbox gets empty and its own. */
const privateFolders = ['/tmp', '/var/tmp', '/dev/shm'];

/** Where the app and writable folders are mounted first, while their sources are visible. */
const keep = '/dev/shm/.dormant-sandbox';

/**
 * The sandbox's mounts as an fstab, in order, for one `mount -a` (one program started, not
 * one per mount: each start of mount costs about 2.5 ms on the cold-start path). The app and
 * writable folders are mounted first under a fresh /dev/shm, while their sources are
 * visible; the private /tmp and the hidden paths (which may hold those sources: a state
 * folder under /tmp) cover them next; then they are bound into place, and a last fresh
 * /dev/shm hides where they were made. Each tmpfs has its own source name: `mount -a`
 * skips a line whose source and target are mounted already.
 */
export function sandboxFstab(spec: SandboxSpec): string {
  // Every field escaped as fstab(5) reads it (libmount unescapes the options too): no path can end a field or a line.
  const line = (source: string, target: string, type: string, options: string) => `${fstabField(source)} ${fstabField(target)} ${type} ${fstabField(options)} 0 0`;
  const tmpfs = 'nosuid,nodev';
  const app = spec.appFolder;
  const image = spec.image;
  const lines = [
    // Over an image, bubblewrap (the app's uid) binds what is kept here: it must reach it.
    line('dormant-keep', '/dev/shm', 'tmpfs', `mode=${image ? '0755' : '0700'},${tmpfs}`),
    ...(image ? [line(image.root, `${keep}/root`, 'none', 'bind,ro,X-mount.mkdir')] : []),
    ...(image?.readOnlyAt ?? []).map((folder, i) => line(folder.from, `${keep}/r${i}`, 'none', 'bind,ro,X-mount.mkdir')),
    // Commas separate options: overlay's folders are escaped the way the kernel reads them.
    ...(app ? [line('overlay', `${keep}/app`, 'overlay', `lowerdir=${overlayPath(app.release)},upperdir=${overlayPath(app.upper)},workdir=${overlayPath(app.work)},X-mount.mkdir`)] : []),
    ...spec.writable.map((path, i) => line(path, `${keep}/w${i}`, 'none', 'bind,X-mount.mkdir')),
    line('dormant-tmp', '/tmp', 'tmpfs', `mode=1777,${tmpfs}`),
    line('dormant-var-tmp', '/var/tmp', 'tmpfs', `mode=1777,${tmpfs}`),
    // Under the private /tmp or /var/tmp, a path is hidden already (and gone: nothing to mount on).
    ...spec.hidden.filter((path) => !privateFolders.some((folder) => path === folder || path.startsWith(`${folder}/`))).map((path) => line('dormant-hidden', path, 'tmpfs', `mode=0755,${tmpfs}`)),
    // Over an image, bubblewrap puts them in place (imageSandbox), in its own root.
    ...(app && !image ? [line(`${keep}/app`, app.at, 'none', 'bind,X-mount.mkdir')] : []),
    ...(image ? [] : spec.writable.map((path, i) => line(`${keep}/w${i}`, path, 'none', 'bind,X-mount.mkdir'))),
    ...(image ? [] : [line('dormant-shm', '/dev/shm', 'tmpfs', `mode=1777,${tmpfs}`)]),
  ];
  return `${lines.join('\n')}\n`;
}

/** A folder in overlay's options: its commas and colons would split them. */
function overlayPath(path: string): string {
  return path.replace(/[\\,:]/g, (c) => `\\${c}`);
}

/**
 * What the namespace's first process runs: the mounts, then the app as its uid; it waits.
 * The fstab is read whole before the first mount, so it may lie in a folder they hide.
 */
export function sandboxScript(spec: SandboxSpec, fstabPath: string): string {
  return [
    'set -e',
    // In the PID namespace, $$ is 1: this shell, as the kernel reads the pid in the writer's namespace.
    ...(spec.cgroupProcs ?? []).map((file) => `echo $$ > ${shellWord(file)}`),
    `${shellWord(spec.tools.mount)} -T ${shellWord(fstabPath)} -a`,
    ...(spec.image ? [] : [`cd ${shellWord(spec.cwd)}`]),
    'set +e',
    // A command in the background reads /dev/null, not our standard input, unless it is given back (a build step may be handed a file there).
    'exec 9<&0',
    `${shellWord(spec.tools.setpriv)} --reuid=${spec.uid} --regid=${spec.gid} --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- ${unprivileged(spec)} "$@" 0<&9 9<&- & wait $!`,
  ].join('\n');
}

/** What runs after setpriv, before the command: the environment's reader (the host's root), or bubblewrap over the image. */
function unprivileged(spec: SandboxSpec): string {
  const image = spec.image;
  if (!image) return `/bin/sh -c ${shellWord(spec.gated ? gatedUnprivilegedStart : unprivilegedStart)} dormant-app`;
  const app = spec.appFolder;
  const binds = image.writableAt.slice(0, spec.writable.length).map((at, i) => `--bind ${keep}/w${i} ${shellWord(at)}`);
  return [
    image.bwrap,
    // The environment first: --clearenv, then one --setenv per variable.
    '--args 3',
    // Its own user namespace, where the image's user is the app's uid (and owns what the image gave it: builder/image-trees.ts), and its own PID namespace, for a /proc of its own.
    `--unshare-user --uid ${image.uid} --gid ${image.gid} --unshare-pid --die-with-parent`,
    // A warm sandbox: all of it made, the command's exec waits for fd 4 (bubblewrap closes it then).
    ...(spec.gated ? ['--block-fd 4'] : []),
    `--ro-bind ${keep}/root /`,
    '--proc /proc --dev /dev --tmpfs /tmp',
    ...(image.readOnlyAt ?? []).map((folder, i) => `--ro-bind ${keep}/r${i} ${shellWord(folder.at)}`),
    ...(app ? [`--bind ${keep}/app ${shellWord(app.at)}`] : []),
    ...binds,
    `--chdir ${shellWord(spec.cwd)}`,
    '--',
  ].join(' ');
}

/**
 * The whole command line; fstabPath holds sandboxFstab(spec). Spawn it detached (its own
 * process group), as any replica, with sandboxRootEnv as its environment and a pipe on fd 3
 * that gets sandboxEnvScript of the tenant's environment, then its end.
 */
export function sandboxCommand(spec: SandboxSpec, fstabPath: string): string[] {
  const { setpriv, unshare } = spec.tools;
  return [
    setpriv,
    '--pdeathsig',
    'KILL',
    '--',
    unshare,
    '--pid',
    '--mount',
    '--ipc',
    '--uts',
    '--fork',
    '--kill-child',
    '--mount-proc',
    '--propagation',
    'private',
    '--',
    '/bin/sh',
    '-c',
    sandboxScript(spec, fstabPath),
    'dormant-sandbox',
    ...spec.command,
  ];
}
