/**
 * What a sandboxed process may use, from an App's `spec.run.resources` (Kubernetes' names
 * and meaning), as cgroup v1 values. Pure: the host's cgroups are in host-cgroups.ts.
 */

export interface Quantities {
  readonly cpu?: string;
  readonly memory?: string;
}

export interface Resources {
  readonly requests?: Quantities;
  readonly limits?: Quantities;
}

export interface CgroupLimits {
  /** memory.limit_in_bytes (and memory.memsw.limit_in_bytes where swap is counted, so that it does not swap instead): over it, the kernel's OOM killer ends the process (exit 137), as a container's limit does. */
  readonly memoryBytes: number;
  /** cpu.cfs_quota_us per cpu.cfs_period_us (100 ms); none: no ceiling. */
  readonly cpuQuotaMicros?: number;
  /** cpu.shares: its weight when the CPU is contended, as the kubelet sets it from the CPU request. */
  readonly cpuShares: number;
  /** pids.max: processes and threads; a fork bomb stops there. */
  readonly pids: number;
}

export const cpuPeriodMicros = 100_000;

/** A replica that names no memory gets Heroku's standard dyno's; one that names no CPU request weighs as one CPU. */
export const replicaDefaults = { memory: '512Mi', pids: 1024 } as const;

/** A build may need more than the app it makes (bundlers, compilers); the same for every build. */
export const buildLimits: CgroupLimits = { memoryBytes: 4 * 1024 ** 3, cpuShares: 1024, pids: 4096 };

const memoryUnits: Readonly<Record<string, number>> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };

/** "256Mi" → bytes; undefined when it is not a memory quantity. */
export function memoryBytes(quantity: string): number | undefined {
  const match = /^([0-9]+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (!match) return undefined;
  return Number(match[1]) * (memoryUnits[match[2] ?? ''] ?? 1);
}

/** "250m" or "1.5" → thousandths of a CPU; undefined when it is not a CPU quantity. */
export function cpuMillis(quantity: string): number | undefined {
  const milli = /^([0-9]+)m$/.exec(quantity);
  if (milli) return Number(milli[1]);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(quantity)) return undefined;
  return Math.round(Number(quantity) * 1000);
}

/**
 * A replica's cgroup limits: the memory limit (else the request, else 512Mi), the CPU limit
 * as a CFS quota (none without one), the CPU request as shares (1024 per CPU, at least 2,
 * as the kubelet computes them; one CPU without one), and 1024 processes.
 */
export function replicaLimits(resources: Resources | undefined): CgroupLimits {
  const memory = memoryBytes(resources?.limits?.memory ?? resources?.requests?.memory ?? replicaDefaults.memory) ?? (memoryBytes(replicaDefaults.memory) as number);
  const cpuLimit = resources?.limits?.cpu === undefined ? undefined : cpuMillis(resources.limits.cpu);
  const cpuRequest = resources?.requests?.cpu === undefined ? undefined : cpuMillis(resources.requests.cpu);
  return {
    // Within what the kernel takes: beyond a PiB of memory, a thousand CPUs or 262144 shares is no limit anyway.
    memoryBytes: Math.min(memory, 2 ** 50),
    // The kernel refuses a quota below 1 ms per period.
    ...(cpuLimit === undefined ? {} : { cpuQuotaMicros: Math.min(1000 * cpuPeriodMicros, Math.max(1000, Math.round((cpuLimit * cpuPeriodMicros) / 1000))) }),
    cpuShares: cpuRequest === undefined ? 1024 : Math.min(262_144, Math.max(2, Math.floor((cpuRequest * 1024) / 1000))),
    pids: replicaDefaults.pids,
  };
}
