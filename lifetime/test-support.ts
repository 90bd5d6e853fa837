// For tests: find processes by a variable in their environment (what they inherited from
// the test), by their pids in this machine's PID namespace, whatever namespace they run in.
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Pids of live processes (not zombies) whose environment holds name=value. */
export function processesWithEnv(name: string, value: string): number[] {
  const wanted = `${name}=${value}`;
  return processesWhere((env) => env.includes(wanted));
}

/** Pids of live processes (not zombies) whose environment (NAME=value entries) matches. */
export function processesWhere(matches: (env: readonly string[]) => boolean): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      if (matches(readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0'))) found.push(pid);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/** Pids of live processes whose command line (arguments joined by spaces) matches: a sandbox's root shell names its fstab, in the state folder. */
export function processesByCommandLine(matches: (commandLine: string) => boolean): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const line = commandLine(pid);
    if (line !== '(gone)' && line !== '' && matches(line)) found.push(pid);
  }
  return found;
}

/** The command line of a process, for messages. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '(gone)';
  }
}

/** Resolves once no process carries name=value; rejects after timeoutMs naming those left. */
export function untilNoneWithEnv(name: string, value: string, timeoutMs: number): Promise<void> {
  const wanted = `${name}=${value}`;
  return untilNoneWhere((env) => env.includes(wanted), timeoutMs);
}

/** Resolves once no process's environment matches; rejects after timeoutMs naming those left. */
export async function untilNoneWhere(matches: (env: readonly string[]) => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const left = processesWhere(matches);
    if (left.length === 0) return;
    if (performance.now() > deadline) throw new Error(`still running ${timeoutMs} ms later: ${left.map((pid) => `${pid} (${commandLine(pid)})`).join(', ')}`);
    await sleep(20);
  }
}

/** Kills by pid what a failed test left behind. */
export function killWithEnv(name: string, value: string): void {
  const wanted = `${name}=${value}`;
  killWhere((env) => env.includes(wanted));
}

/** Kills by pid the processes whose environment matches. */
export function killWhere(matches: (env: readonly string[]) => boolean): void {
  for (const pid of processesWhere(matches)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone.
    }
  }
}
