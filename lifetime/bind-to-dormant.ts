import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * How much of what a child starts dies with Dormant:
 * - 'tree': the child and everything it starts, wherever it moved (setsid, double fork);
 * - 'process': the child only. For podman, whose containers run under conmon outside any
 *   namespace of ours and are removed by label on the next start instead.
 */
export type LifetimeScope = 'tree' | 'process';

const find = (names: readonly string[]) => names.find((path) => existsSync(path));
/** util-linux, present on every Debian (and in node:20-slim). */
const setpriv = find(['/usr/bin/setpriv', '/bin/setpriv']);
const unshare = find(['/usr/bin/unshare', '/bin/unshare']);

/**
 * The first process of the namespace: a shell that runs the command and waits for it. The
 * command is not that first process itself, because the kernel drops the signals of the
 * first process of a namespace that it has no handler for: an app would ignore the SIGTERM
 * that stops it. In the same process group, the command gets Dormant's signals directly.
 */
const init = '"$@" & wait $!';

/**
 * util-linux's setpriv gives the child a parent-death signal (PR_SET_PDEATHSIG): the kernel
 * sends it SIGKILL when Dormant dies, even by SIGKILL. The signal is not inherited by what
 * the child forks, so for a tree the child is unshare, which runs the command in a PID
 * namespace of its own and kills the namespace's first process when it dies; and when that
 * process dies the kernel kills every process in the namespace. Not as root, the namespace
 * is owned by a user namespace that maps the user to itself. A mount namespace carries the
 * namespace's own /proc.
 */
function treePrefix(): string[] | undefined {
  if (!setpriv || !unshare) return undefined;
  const user = process.geteuid?.() === 0 ? [] : ['--user', '--map-current-user'];
  // --mount-proc: /proc shows the namespace, so that /proc/PID of the pids the app knows is theirs.
  return [setpriv, '--pdeathsig', 'KILL', '--', unshare, ...user, '--pid', '--mount-proc', '--fork', '--kill-child', '--', '/bin/sh', '-c', init, 'dormant-init'];
}

let tree: { prefix: string[] | undefined; problem: string | undefined } | undefined;

/** Tried once: user namespaces may be off (a sysctl, AppArmor) or refused (seccomp in a pod). */
function treeSupport(): { prefix: string[] | undefined; problem: string | undefined } {
  if (tree) return tree;
  const prefix = treePrefix();
  if (!prefix) {
    tree = { prefix: undefined, problem: 'util-linux setpriv and unshare are not installed' };
    return tree;
  }
  const tried = spawnSync(prefix[0] ?? '', [...prefix.slice(1), 'true'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
  tree =
    tried.status === 0
      ? { prefix, problem: undefined }
      : { prefix: undefined, problem: `unshare cannot make a PID namespace here (${tried.error?.message ?? (tried.stderr.toString().trim() || `exit ${tried.status}`)})` };
  return tree;
}

/**
 * Why the children of Dormant cannot be bound to it as a tree on this machine (only each
 * child itself dies with Dormant then), or undefined when they can.
 */
export function treeBindingProblem(): string | undefined {
  return treeSupport().problem;
}

/**
 * The command line that runs command so that it dies with Dormant, even when Dormant is
 * killed with SIGKILL. Spawn it detached (its own process group): signals for the group
 * reach the command as before. A command that is killed by a signal exits with 128 + the
 * signal's number instead ('tree' only: the shell reports it so).
 */
export function bindToDormant(command: readonly string[], scope: LifetimeScope): string[] {
  const program = command.length === 0 ? ['false'] : command;
  if (scope === 'tree') {
    const { prefix } = treeSupport();
    if (prefix) return [...prefix, ...program];
  }
  return setpriv ? [setpriv, '--pdeathsig', 'KILL', '--', ...program] : [...program];
}
