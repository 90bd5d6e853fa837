/**
 * The host's cgroup v1 memory, cpu and pids controllers, under Dormant's own cgroup: a
 * folder per state folder (`dormant-<id>`), and in it one cgroup per sandboxed process
 * tree (a replica, a build, a hook). The sandbox's root shell joins them before it starts
 * the tenant's command, so everything the command starts is counted and limited.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupLimits } from './limits.js';

const controllers = ['memory', 'cpu', 'pids'] as const;
type Controller = (typeof controllers)[number];

/**
 * Where each controller's hierarchy is mounted, joined with this process's own cgroup in it,
 * from /proc/self/mounts and /proc/self/cgroup; or why this host cannot limit. Pure.
 */
export function ownCgroupFolders(mounts: string, selfCgroup: string): Record<Controller, string> | string {
  const found: Partial<Record<Controller, string>> = {};
  for (const controller of controllers) {
    const mount = mounts
      .split('\n')
      .map((line) => line.split(' '))
      .find(([, , type, options]) => type === 'cgroup' && (options ?? '').split(',').includes(controller));
    const own = selfCgroup
      .split('\n')
      .map((line) => /^\d+:([^:]*):(.*)$/.exec(line))
      .find((match) => match?.[1]?.split(',').includes(controller));
    if (!mount?.[1] || own?.[2] === undefined) return `the cgroup v1 ${controller} controller is not mounted (a cgroup v2 host is not supported yet)`;
    found[controller] = join(mount[1].replace(/\\040/g, ' '), own[2]).replace(/(.)\/$/, '$1');
  }
  return found as Record<Controller, string>;
}

/** The files a limit is written to, and the values (cgroup v1). Pure. */
export function cgroupFiles(limits: CgroupLimits): Record<Controller, [string, string][]> {
  return {
    // The limit before memory plus swap: the second may not be below the first.
    memory: [
      ['memory.limit_in_bytes', String(limits.memoryBytes)],
      ['memory.memsw.limit_in_bytes', String(limits.memoryBytes)],
    ],
    cpu: [['cpu.shares', String(limits.cpuShares)], ...(limits.cpuQuotaMicros === undefined ? [] : ([['cpu.cfs_quota_us', String(limits.cpuQuotaMicros)]] as [string, string][]))],
    pids: [['pids.max', String(limits.pids)]],
  };
}

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ, 100 on Linux's every architecture here). */
const ticksPerSecond = 100;

/** utime, stime, cutime and cstime of a /proc/PID/stat line, in ticks; undefined when it is not one. Pure. */
export function statTicks(stat: string): number | undefined {
  // The command name may hold spaces and parentheses: the fields start after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const times = fields.slice(11, 15).map(Number);
  return times.length === 4 && times.every(Number.isFinite) ? times.reduce((sum, value) => sum + value, 0) : undefined;
}

/** The CPU time of the processes a cgroup.procs lists (and of the children they reaped), in seconds. */
function treeCpuSeconds(procsFile: string): number | undefined {
  let pids: string[];
  try {
    pids = readFileSync(procsFile, 'utf8').split('\n').filter((line) => /^\d+$/.test(line));
  } catch {
    return undefined;
  }
  let ticks = 0;
  for (const pid of pids.slice(0, 4096)) {
    try {
      ticks += statTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) ?? 0;
    } catch {
      // Gone since it was listed.
    }
  }
  return ticks / ticksPerSecond;
}

export class HostCgroups {
  readonly #parents: Record<Controller, string>;

  private constructor(parents: Record<Controller, string>) {
    this.#parents = parents;
  }

  /**
   * Dormant's folder in each controller, emptied of the cgroups an earlier run left (their
   * processes died with it); or why this host cannot limit.
   */
  static open(name: string): HostCgroups | { readonly problem: string } {
    let folders: Record<Controller, string> | string;
    try {
      folders = ownCgroupFolders(readFileSync('/proc/self/mounts', 'utf8'), readFileSync('/proc/self/cgroup', 'utf8'));
    } catch (error) {
      return { problem: `cannot read this process's cgroups (${(error as Error).message})` };
    }
    if (typeof folders === 'string') return { problem: folders };
    const parents = { memory: join(folders.memory, `dormant-${name}`), cpu: join(folders.cpu, `dormant-${name}`), pids: join(folders.pids, `dormant-${name}`) };
    try {
      for (const controller of controllers) {
        mkdirSync(parents[controller], { recursive: true });
        for (const child of readdirSync(parents[controller], { withFileTypes: true })) if (child.isDirectory()) removeFolder(join(parents[controller], child.name));
      }
      // Tried once: a cgroup made and limited, then removed.
      const cgroups = new HostCgroups(parents);
      cgroups.create('dormant-check', { memoryBytes: 64 * 1024 ** 2, cpuShares: 1024, cpuQuotaMicros: 100_000, pids: 16 });
      cgroups.remove('dormant-check');
      return cgroups;
    } catch (error) {
      return { problem: `cannot make cgroups under ${parents.memory} (${(error as Error).message})` };
    }
  }

  /** A cgroup per controller for one process tree, limited; returns the cgroup.procs files it joins. Synchronous: on the wake-up path. */
  create(id: string, limits: CgroupLimits): string[] {
    const files = cgroupFiles(limits);
    try {
      return controllers.map((controller) => {
        const folder = join(this.#parents[controller], id);
        mkdirSync(folder, { recursive: true });
        for (const [file, value] of files[controller]) {
          const path = join(folder, file);
          // A kernel that does not count swap has no memsw files (nothing to limit there).
          if (file.startsWith('memory.memsw.') && !existsSync(path)) continue;
          writeFileSync(path, value);
        }
        return join(folder, 'cgroup.procs');
      });
    } catch (error) {
      this.remove(id);
      throw error;
    }
  }

  /** What a tree uses now: its memory (page cache included, as the limit counts it) and the CPU time it has had; undefined where the kernel does not say. */
  usage(id: string): { memoryBytes?: number; cpuSeconds?: number } {
    const read = (path: string): number | undefined => {
      try {
        const value = Number(readFileSync(path, 'utf8').trim());
        return Number.isFinite(value) ? value : undefined;
      } catch {
        return undefined;
      }
    };
    const memoryBytes = read(join(this.#parents.memory, id, 'memory.usage_in_bytes'));
    // cpuacct, where it is mounted with cpu (cpu,cpuacct: nanoseconds); else the tree's processes' own times, and their reaped children's.
    const cpuNanos = read(join(this.#parents.cpu, id, 'cpuacct.usage'));
    const cpuSeconds = cpuNanos === undefined ? treeCpuSeconds(join(this.#parents.memory, id, 'cgroup.procs')) : cpuNanos / 1e9;
    return { ...(memoryBytes === undefined ? {} : { memoryBytes }), ...(cpuSeconds === undefined ? {} : { cpuSeconds }) };
  }

  /** Whether the kernel's OOM killer ended a process of the tree for its memory limit (read before remove). */
  oomKilled(id: string): boolean {
    try {
      return /^oom_kill [1-9]/m.test(readFileSync(join(this.#parents.memory, id, 'memory.oom_control'), 'utf8'));
    } catch {
      return false;
    }
  }

  /**
   * Removes a tree's cgroups. Its last processes may still be exiting (the kernel ends a PID
   * namespace's processes after its first one): tried again a little later, then left to the next start.
   */
  remove(id: string): void {
    const left = controllers.map((controller) => join(this.#parents[controller], id)).filter((folder) => !removeFolder(folder));
    if (left.length === 0) return;
    let attempt = 0;
    const retry = () => {
      const still = left.filter((folder) => existsSync(folder) && !removeFolder(folder));
      if (still.length > 0 && ++attempt < retryDelaysMs.length) setTimeout(retry, retryDelaysMs[attempt]).unref();
    };
    setTimeout(retry, retryDelaysMs[0]).unref();
  }

  /** Removes Dormant's folders, when it stops (after its sandboxes have ended). */
  close(): void {
    for (const controller of controllers) {
      const parent = this.#parents[controller];
      try {
        for (const child of readdirSync(parent, { withFileTypes: true })) if (child.isDirectory()) removeFolder(join(parent, child.name));
      } catch {
        // Gone already.
      }
      removeFolder(parent);
    }
  }
}

const retryDelaysMs = [50, 250, 1000, 5000];

/** rmdir; false when the cgroup still has a process. */
function removeFolder(folder: string): boolean {
  try {
    rmdirSync(folder);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}
