// Step load: 10 -> 200 -> 10 concurrent users; replicas over time next to latency.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { round, type Scenario } from '../scenario.js';
import { attack, type Hit, percentile } from '../vegeta.js';

interface Second {
  readonly atS: number;
  readonly users: number;
  readonly ready: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** Two panels: ready replicas, and p50/p99 latency, per second. */
export function renderStepChart(seconds: readonly Second[], title: string): string {
  const width = 900;
  const panel = 200;
  const left = 60;
  const plotWidth = width - left - 30;
  const x = (s: number) => left + (s / Math.max(1, seconds.length)) * plotWidth;
  const maxReady = Math.max(1, ...seconds.map((s) => s.ready));
  const maxLatency = Math.max(1, ...seconds.map((s) => (Number.isFinite(s.p99Ms) ? s.p99Ms : 0)));
  const line = (top: number, max: number, value: (s: Second) => number, color: string) => {
    const points = seconds.filter((s) => Number.isFinite(value(s))).map((s) => `${x(s.atS).toFixed(1)},${(top + panel - (value(s) / max) * panel).toFixed(1)}`);
    return points.length === 0 ? '' : `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(' ')}"/>`;
  };
  const phases = seconds.filter((s, i) => i === 0 || seconds[i - 1]?.users !== s.users);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${2 * panel + 110}" font-family="sans-serif" font-size="12">`,
    `<title>${title}</title>`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${left}" y="18" font-size="14" font-weight="bold">${title}</text>`,
    ...phases.map((p) => `<text x="${x(p.atS) + 3}" y="36" fill="#666">${p.users} users</text><line x1="${x(p.atS)}" x2="${x(p.atS)}" y1="40" y2="${2 * panel + 80}" stroke="#ddd"/>`),
    `<text x="${left}" y="54">ready replicas (max ${maxReady})</text>`,
    `<rect x="${left}" y="60" width="${plotWidth}" height="${panel}" fill="none" stroke="#ccc"/>`,
    line(60, maxReady, (s) => s.ready, '#1f5fbf'),
    `<text x="${left}" y="${panel + 84}">latency per second: p50 (green), p99 (red), max ${round(maxLatency)} ms</text>`,
    `<rect x="${left}" y="${panel + 90}" width="${plotWidth}" height="${panel}" fill="none" stroke="#ccc"/>`,
    line(panel + 90, maxLatency, (s) => s.p50Ms, '#2a9d4b'),
    line(panel + 90, maxLatency, (s) => s.p99Ms, '#c0392b'),
    `<text x="${left + plotWidth}" y="${2 * panel + 104}" text-anchor="end" fill="#666">${seconds.length} s</text>`,
    '</svg>',
    '',
  ].join('\n');
}

export const step: Scenario = {
  name: 'step',
  summary: '10 -> 200 -> 10 concurrent users (50 ms requests): replicas and latency over time, with a chart',
  async run({ env, tools, log, smoke, resultsDir, stamp }) {
    const phases = smoke ? [[10, 3], [200, 5], [10, 5]] : [[10, 15], [200, 30], [10, 30]];
    // 20 concurrent per replica and short windows, so that the run shows scaling both ways.
    await env.policy('target=20', 'targetUtilization=1', 'stableWindow=10s');
    const ready: { atMs: number; ready: number }[] = [];
    const startedMs = Date.now();
    const sampler = setInterval(() => {
      void env.readyReplicas().then((n) => ready.push({ atMs: Date.now(), ready: n }));
    }, 1000);
    const hits: (Hit & { users: number })[] = [];
    try {
      for (const [users = 0, durationS = 0] of phases) {
        log(`step: ${users} users for ${durationS} s`);
        const phase = await attack(tools.vegeta, { target: { url: `${env.activatorUrl}?sleep=50`, host: env.host }, rate: 0, workers: users, durationS });
        for (const hit of phase) hits.push({ ...hit, users });
      }
    } finally {
      clearInterval(sampler);
      await env.policy('target-', 'targetUtilization-', 'stableWindow-');
    }
    const totalS = Math.ceil((Date.now() - startedMs) / 1000);
    const seconds: Second[] = [];
    for (let s = 0; s < totalS; s++) {
      const inSecond = hits.filter((h) => Math.floor((h.atMs - startedMs) / 1000) === s);
      const sample = ready.filter((r) => r.atMs - startedMs <= (s + 1) * 1000).at(-1);
      seconds.push({
        atS: s,
        users: inSecond[0]?.users ?? seconds.at(-1)?.users ?? 0,
        ready: sample?.ready ?? 0,
        p50Ms: percentile(inSecond.map((h) => h.latencyMs), 50),
        p99Ms: percentile(inSecond.map((h) => h.latencyMs), 99),
      });
    }
    const chart = join(resultsDir, `step-${stamp}.svg`);
    await writeFile(chart, renderStepChart(seconds, 'dormant step load: 10 -> 200 -> 10 users, 50 ms requests, target 20 per replica'));
    log(`step: chart written to ${chart}`);
    const peak = Math.max(0, ...seconds.map((s) => s.ready));
    const high = hits.filter((h) => h.users === 200);
    const failed = hits.filter((h) => h.code !== 200 || h.error !== '');
    const figures = {
      requests: hits.length,
      failed: failed.length,
      peak_replicas: peak,
      replicas_at_end: seconds.at(-1)?.ready ?? 0,
      p50_ms_at_200: round(percentile(high.map((h) => h.latencyMs), 50)),
      p99_ms_at_200: round(percentile(high.map((h) => h.latencyMs), 99)),
    };
    return {
      figures,
      rows: [
        { figure: 'step: peak ready replicas at 200 users (target 20 each)', value: figures.peak_replicas, unit: 'replicas' },
        { figure: 'step: p99 latency at 200 users, 50 ms requests', value: figures.p99_ms_at_200, unit: 'ms', reference: { name: 'the request itself', value: 50 } },
        { figure: 'step: failed requests', value: figures.failed, unit: `of ${figures.requests}` },
      ],
      breaches: failed.length > 0 ? [`step: failed = ${failed.length} (must be 0): ${failed.slice(0, 3).map((h) => `${h.code} ${h.error}`).join('; ')}`] : [],
    };
  },
};
