import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';

export const supervisorVariable = 'DORMANT_SUPERVISOR';

/** Marks every replica of one state folder, so a later start can find ones left behind. */
export function supervisorId(stateDir: string): string {
  return createHash('sha256').update(stateDir).digest('hex').slice(0, 16);
}

/**
 * Kills processes left by an earlier run on the same state folder. A replica and what it
 * forks die with Dormant (lifetime/), but where PID namespaces are refused only the
 * replica's own process does, not what it forked (`sh -c`, `npm start`); those inherit the
 * marker variable and are found here.
 */
export async function reapOrphans(id: string): Promise<number[]> {
  const marker = `${supervisorVariable}=${id}`;
  const killed: number[] = [];
  const entries = await readdir('/proc').catch(() => [] as string[]);
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const environ = await readFile(`/proc/${pid}/environ`, 'latin1').catch(() => '');
    if (!environ.split('\0').includes(marker)) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      // Gone already, or not ours to kill.
    }
  }
  return killed;
}
