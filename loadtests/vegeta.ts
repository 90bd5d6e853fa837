// vegeta as a library: one attack, its per-request results read back from `vegeta encode`.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface VegetaTarget {
  readonly url: string;
  /** Host header: apps are routed by it. */
  readonly host?: string;
}

export interface AttackOptions {
  readonly target: VegetaTarget;
  /** Requests per second; 0 with workers: a closed loop of that many users. */
  readonly rate: number;
  readonly durationS: number;
  /** Concurrent users for rate 0; the cap of workers otherwise. */
  readonly workers?: number;
  readonly timeoutS?: number;
}

export interface Hit {
  /** Send time, ms since the epoch. */
  readonly atMs: number;
  readonly latencyMs: number;
  readonly code: number;
  readonly error: string;
  readonly body: string;
  /** X-Dormant-Cold-Start: how long the activator held it for a wake-up. */
  readonly coldStartMs: number | undefined;
}

export async function attack(vegeta: string, options: AttackOptions): Promise<Hit[]> {
  const args = ['attack', `-rate=${options.rate}`, `-duration=${options.durationS}s`, `-timeout=${options.timeoutS ?? 60}s`, '-keepalive=true'];
  if (options.workers !== undefined) args.push(`-workers=${options.workers}`, `-max-workers=${options.workers}`);
  const attacker = spawn(vegeta, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const encoder = spawn(vegeta, ['encode', '--to', 'json'], { stdio: ['pipe', 'pipe', 'inherit'] });
  attacker.stdout.pipe(encoder.stdin);
  attacker.stdin.end(`GET ${options.target.url}\n${options.target.host ? `Host: ${options.target.host}\n` : ''}`);
  const hits: Hit[] = [];
  for await (const line of createInterface({ input: encoder.stdout })) {
    if (line === '') continue;
    const raw = JSON.parse(line) as { timestamp: string; latency: number; code: number; error: string; body: string | null; headers: Record<string, string[]> | null };
    const coldStart = raw.headers?.['X-Dormant-Cold-Start']?.[0];
    hits.push({
      atMs: Date.parse(raw.timestamp),
      latencyMs: raw.latency / 1e6,
      code: raw.code,
      error: raw.error,
      body: raw.body ? Buffer.from(raw.body, 'base64').toString('utf8') : '',
      coldStartMs: coldStart === undefined ? undefined : Number(coldStart),
    });
  }
  await Promise.all([attacker.exitCode === null ? once(attacker, 'exit') : undefined, encoder.exitCode === null ? once(encoder, 'exit') : undefined]);
  return hits;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

export interface HitSummary {
  readonly requests: number;
  readonly failed: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The first failures, to name in a breached threshold. */
  readonly failures: readonly string[];
}

export function summarize(hits: readonly Hit[]): HitSummary {
  const failedHits = hits.filter((h) => h.code < 200 || h.code >= 400 || h.error !== '');
  const latencies = hits.map((h) => h.latencyMs);
  return {
    requests: hits.length,
    failed: failedHits.length,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    failures: failedHits.slice(0, 3).map((h) => `${h.code} ${h.error || h.body.slice(0, 120)}`.trim()),
  };
}
