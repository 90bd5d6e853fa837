// wrk for peak throughput: a closed loop with many connections finds the ceiling.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface WrkResult {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
}

const toMs = (value: string, unit: string) => Number(value) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit] ?? Number.NaN);

/** Parses `wrk --latency` output. */
export function parseWrk(text: string): WrkResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? Number.NaN);
  const latency = (p: string) => {
    const match = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(text);
    return match ? toMs(match[1] ?? '', match[2] ?? '') : Number.NaN;
  };
  const errorCounts = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  const socketErrors = errorCounts ? errorCounts.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return { rps, p50Ms: latency('50'), p99Ms: latency('99'), errors: socketErrors + non2xx };
}

export async function runWrk(wrk: string, options: { url: string; host?: string; connections: number; durationS: number; threads?: number }): Promise<WrkResult> {
  // "Host" capitalized: wrk adds its own lower-case host header otherwise, and sends two.
  const args = [`-t${options.threads ?? 1}`, `-c${options.connections}`, `-d${options.durationS}s`, '--latency'];
  if (options.host) args.push('-H', `Host: ${options.host}`);
  const { stdout } = await run(wrk, [...args, options.url], { maxBuffer: 4 * 1024 * 1024 });
  return parseWrk(stdout);
}
