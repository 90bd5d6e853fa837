// Pure parsers and summaries for loadtests/many-apps.ts: /proc stat lines, strace logs, push times.

/** utime + stime (+ cutime + cstime when asked) of one /proc/PID/stat line, in clock ticks. */
export function cpuTicksOf(statLine: string, withReapedChildren: boolean): number {
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  const fields = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
  // fields[0] is the state (field 3 of proc(5)); utime is field 14, so fields[11].
  const at = (i: number) => Number(fields[i] ?? 0);
  return at(11) + at(12) + (withReapedChildren ? at(13) + at(14) : 0);
}

/** VmRSS of /proc/PID/status in MiB. */
export function rssMibOf(statusText: string): number {
  const kib = /^VmRSS:\s+(\d+)\s+kB/m.exec(statusText)?.[1];
  return kib === undefined ? 0 : Number(kib) / 1024;
}

export interface StoreSyscalls {
  readonly appOpens: number;
  readonly revisionOpens: number;
  /** Opens of the resource-version counter (reads and its temp file for writes). */
  readonly counterOpens: number;
  /** Atomic writes (rename into place) of App and Revision files. */
  readonly appWrites: number;
  readonly revisionWrites: number;
}

/**
 * Counts what `strace -f -e trace=openat,rename,renameat,renameat2` logged on the store's
 * files. An open of a temp file (`.name.json.tmp-…`) is the first half of a write, not a read.
 */
export function countStoreSyscalls(log: string): StoreSyscalls {
  let appOpens = 0;
  let revisionOpens = 0;
  let counterOpens = 0;
  let appWrites = 0;
  let revisionWrites = 0;
  for (const line of log.split('\n')) {
    const open = /openat\([^,]+, "([^"]+)"/.exec(line);
    if (open?.[1] !== undefined) {
      const path = open[1];
      if (/\/objects\/resource-version$/.test(path)) counterOpens++;
      if (path.includes('.tmp-') || !path.endsWith('.json')) continue;
      if (path.includes('/objects/apps/')) appOpens++;
      else if (path.includes('/objects/revisions/')) revisionOpens++;
      continue;
    }
    if (!/\brename(?:at2?)?\(/.test(line)) continue;
    // The target is the last path on the line (a call strace splits keeps both paths on its first part).
    const target = [...line.matchAll(/"([^"]*)"/g)].at(-1)?.[1];
    if (target?.endsWith('.json') && !target.includes('.tmp-')) {
      if (target.includes('/objects/apps/')) appWrites++;
      else if (target.includes('/objects/revisions/')) revisionWrites++;
    }
  }
  return { appOpens, revisionOpens, counterOpens, appWrites, revisionWrites };
}

export interface PushSummary {
  /** Seconds of the pushes asked for (1st, 10th, 100th, 500th, last), those that happened. */
  readonly at: readonly { readonly index: number; readonly seconds: number }[];
  /** Least-squares slope: seconds more per 100 apps already there. */
  readonly slopePer100: number;
  /** Medians of the first and the last block of pushes (50, or a tenth when fewer than 500): steadier than single pushes on a loaded machine. */
  readonly firstBlock: { readonly size: number; readonly median: number };
  readonly lastBlock: { readonly size: number; readonly median: number };
  readonly failed: number;
}

/** The pushes' times at the marks the issue names, and how they grow. */
export function summarizePushes(seconds: readonly (number | undefined)[]): PushSummary {
  const n = seconds.length;
  const marks = [...new Set([1, 10, 100, 500, n])].filter((i) => i >= 1 && i <= n).sort((a, b) => a - b);
  const at = marks.flatMap((index) => {
    const value = seconds[index - 1];
    return value === undefined ? [] : [{ index, seconds: value }];
  });
  let count = 0;
  let sumX = 0;
  let sumY = 0;
  let sumXX = 0;
  let sumXY = 0;
  seconds.forEach((y, x) => {
    if (y === undefined) return;
    count++;
    sumX += x;
    sumY += y;
    sumXX += x * x;
    sumXY += x * y;
  });
  const denominator = count * sumXX - sumX * sumX;
  const slope = count > 1 && denominator !== 0 ? (count * sumXY - sumX * sumY) / denominator : 0;
  const size = Math.max(1, Math.min(50, Math.floor(n / 10)));
  const median = (block: readonly (number | undefined)[]) => {
    const sorted = block.filter((s): s is number => s !== undefined).sort((a, b) => a - b);
    if (sorted.length === 0) return Number.NaN;
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
  };
  return {
    at,
    slopePer100: slope * 100,
    firstBlock: { size, median: median(seconds.slice(0, size)) },
    lastBlock: { size, median: median(seconds.slice(-size)) },
    failed: seconds.filter((s) => s === undefined).length,
  };
}

/** A plain two-column table. */
export function formatSummary(rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join('\n');
}
