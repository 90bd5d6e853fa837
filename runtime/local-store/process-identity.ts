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
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = startTime(pid);
  // Without /proc (or without a recorded start time) the pid is all we can go by.
  return start === undefined || start === '?' || now === undefined || now === start;
}
