// Container replicas through podman's CLI: `podman run` in the foreground is the replica's
// process (its output is the app's log, its exit the app's exit); the container is named
// after the replica and labelled with the supervisor, so that a crash of Dormant leaves
// nothing that the next start does not remove.
import { execFile } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type CgroupLimits, cpuPeriodMicros } from '../../sandbox/index.js';

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
  /** The port the app listens on regardless of $PORT (spec.run.port); undefined: it honours $PORT. */
  readonly fixedPort: number | undefined;
  readonly env: Readonly<Record<string, string>>;
  /** Its memory, CPU and process limits (sandbox/limits.ts), as podman sets them. */
  readonly limits: CgroupLimits;
}

/**
 * The command that runs one container replica in the foreground. An app that honours $PORT
 * shares the host's network, as process replicas do, and listens on its loopback port:
 * that skips the network namespace and port forwarding, about 65 ms of every wake-up
 * (measured: first answer 165 ms after podman run, against 230 ms with -p). An app with a
 * fixed port (spec.run.port) gets its own network and that port published on loopback.
 */
export function containerCommand(replica: ContainerReplica): string[] {
  // Names only: the values come from podman's own environment (containerEnv), so that no
  // secret shows in the process list.
  const env = Object.keys(containerEnv(replica)).flatMap((key) => ['-e', key]);
  const network = replica.fixedPort === undefined ? ['--network', 'host'] : ['-p', `127.0.0.1:${replica.hostPort}:${replica.fixedPort}`];
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
    ...network,
    // No setuid gain inside (Kubernetes: allowPrivilegeEscalation false), and the replica's limits.
    '--security-opt',
    'no-new-privileges',
    ...limitFlags(replica.limits),
    ...env,
    replica.image,
  ];
}

/** The limits as podman's flags. */
function limitFlags(limits: CgroupLimits): string[] {
  return [
    '--memory',
    `${limits.memoryBytes}b`,
    '--cpu-shares',
    String(limits.cpuShares),
    ...(limits.cpuQuotaMicros === undefined ? [] : ['--cpu-period', String(cpuPeriodMicros), '--cpu-quota', String(limits.cpuQuotaMicros)]),
    '--pids-limit',
    String(limits.pids),
  ];
}

/** The variables the container gets, as podman's environment passes them on. */
export function containerEnv(replica: ContainerReplica): Record<string, string> {
  return { ...replica.env, PORT: String(replica.fixedPort ?? replica.hostPort) };
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
