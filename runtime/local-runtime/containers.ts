// Container replicas through podman's CLI: `podman run` in the foreground is the replica's
// process (its output is the app's log, its exit the app's exit); the container is named
// after the replica and labelled with the supervisor, so that a crash of Dormant leaves
// nothing that the next start does not remove.
import { execFile } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const supervisorLabel = 'dev.dormant.supervisor';

/** podman's environment: Dormant's containers.conf (runc, rlimits the VM allows), written by hack/containers.sh. */
export function podmanEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const conf = process.env.CONTAINERS_CONF ?? join(process.env.DORMANT_CACHE ?? join(homedir(), '.cache', 'dormant'), 'containers.conf');
  env.CONTAINERS_CONF = conf;
  if (process.env.HOME) env.HOME = process.env.HOME;
  return env;
}

export interface ContainerReplica {
  readonly name: string;
  readonly image: string;
  readonly supervisor: string;
  readonly app: string;
  readonly hostPort: number;
  readonly containerPort: number;
  readonly env: Readonly<Record<string, string>>;
}

/** The command that runs one container replica in the foreground. */
export function containerCommand(replica: ContainerReplica): string[] {
  const env = Object.entries({ ...replica.env, PORT: String(replica.containerPort) }).flatMap(([key, value]) => ['-e', `${key}=${value}`]);
  return [
    'podman',
    'run',
    '--rm',
    '--init',
    '--name',
    replica.name,
    '--label',
    `${supervisorLabel}=${replica.supervisor}`,
    '--label',
    `dev.dormant.app=${replica.app}`,
    '-p',
    `127.0.0.1:${replica.hostPort}:${replica.containerPort}`,
    ...env,
    replica.image,
  ];
}

/** Removes a container at once (after its client was killed, the container would stay). */
export async function removeContainer(name: string): Promise<void> {
  await run('podman', ['rm', '-f', '--time', '0', name], { env: podmanEnv() }).catch(() => undefined);
}

/** Removes every container an earlier run of this supervisor left; returns their names. */
export async function reapContainers(supervisor: string): Promise<string[]> {
  try {
    const { stdout } = await run('podman', ['ps', '-a', '--filter', `label=${supervisorLabel}=${supervisor}`, '--format', '{{.Names}}'], { env: podmanEnv() });
    const names = stdout.split('\n').filter(Boolean);
    await Promise.all(names.map(removeContainer));
    return names;
  } catch {
    // No podman here: no containers either.
    return [];
  }
}
