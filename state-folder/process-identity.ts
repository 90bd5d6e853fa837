import { readFileSync } from 'node:fs';

/**
 * A process named by pid and start time, so that a pid reused after a crash or a reboot
 * is not mistaken for the process that wrote a lock or a pid file.
 */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime); the command name before it may contain spaces, so count from ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Whether pid is a live process. A zombie (killed, not yet reaped by its new parent, which
 * may be slow when PID 1 is not an init) counts as dead, though kill(pid, 0) succeeds.
 */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: the signal check is all there is
  }
}

export function processIdentity(pid: number = process.pid): string {
  return `${pid} ${startTime(pid) ?? '?'}`;
}

/** The pid in an identity string, or undefined when it is not one. */
export function identityPid(identity: string): number | undefined {
  const pid = Number.parseInt(identity, 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Whether the process an identity names still runs (same pid and same start time). */
export function isIdentityAlive(identity: string): boolean {
  const [pidText, start] = identity.trim().split(' ');
  const pid = identityPid(pidText ?? '');
  if (pid === undefined || !isRunning(pid)) return false;
  const now = startTime(pid);
  // Without /proc (or without a recorded start time) the pid is all we can go by.
  return start === undefined || start === '?' || now === undefined || now === start;
}
