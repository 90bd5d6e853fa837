// Warm throughput and latency: through the activator, direct to the app, and through nginx.
import { benchApp } from '../bench-env.js';
import { round, type Scenario } from '../scenario.js';
import { attack, summarize } from '../vegeta.js';
import { runWrk } from '../wrk.js';

export const warm: Scenario = {
  name: 'warm',
  summary: 'constant rate (vegeta) and peak throughput (wrk): activator vs direct vs nginx',
  async run({ env, tools, log, smoke }) {
    await env.policy('minScale=1');
    try {
      await env.dormant.get(benchApp);
      const targets = {
        direct: { url: `http://127.0.0.1:${env.directPort}/` },
        nginx: { url: `http://127.0.0.1:${env.nginxPort}/` },
        activator: { url: env.activatorUrl, host: env.host },
      };
      const durationS = smoke ? 2 : 10;
      const rate = 500;
      const constant: Record<string, ReturnType<typeof summarize>> = {};
      for (const [name, target] of Object.entries(targets)) {
        log(`warm: ${rate} requests/s for ${durationS} s, ${name}`);
        constant[name] = summarize(await attack(tools.vegeta, { target, rate, durationS }));
      }
      const peak: Record<string, Awaited<ReturnType<typeof runWrk>>> = {};
      for (const [name, target] of Object.entries(targets)) {
        log(`warm: wrk, 50 connections for ${durationS} s, ${name}`);
        peak[name] = await runWrk(tools.wrk, { url: target.url, ...('host' in target ? { host: target.host } : {}), connections: 50, durationS });
      }
      const direct = peak.direct?.rps ?? Number.NaN;
      const nginx = peak.nginx?.rps ?? Number.NaN;
      const activator = peak.activator?.rps ?? Number.NaN;
      const figures = {
        direct_rps: round(direct, 0),
        nginx_rps: round(nginx, 0),
        activator_rps: round(activator, 0),
        ratio_vs_nginx: round(activator / nginx, 2),
        direct_p50_ms: round(constant.direct?.p50Ms ?? Number.NaN, 2),
        nginx_p50_ms: round(constant.nginx?.p50Ms ?? Number.NaN, 2),
        activator_p50_ms: round(constant.activator?.p50Ms ?? Number.NaN, 2),
        added_p50_ms: round((constant.activator?.p50Ms ?? Number.NaN) - (constant.direct?.p50Ms ?? Number.NaN), 2),
        activator_p99_ms: round(constant.activator?.p99Ms ?? Number.NaN, 2),
        nginx_p99_ms: round(constant.nginx?.p99Ms ?? Number.NaN, 2),
      };
      const failed = Object.entries(constant).filter(([, s]) => s.failed > 0);
      return {
        figures,
        rows: [
          { figure: 'warm: peak throughput through the activator (wrk -c50)', value: figures.activator_rps, unit: 'req/s', reference: { name: 'nginx', value: figures.nginx_rps } },
          { figure: 'warm: peak throughput direct to the app', value: figures.direct_rps, unit: 'req/s' },
          { figure: `warm: p50 at ${rate} req/s through the activator`, value: figures.activator_p50_ms, unit: 'ms', reference: { name: 'nginx', value: figures.nginx_p50_ms } },
          { figure: `warm: p50 added over direct at ${rate} req/s`, value: figures.added_p50_ms, unit: 'ms' },
          { figure: `warm: p99 at ${rate} req/s through the activator`, value: figures.activator_p99_ms, unit: 'ms', reference: { name: 'nginx', value: figures.nginx_p99_ms } },
        ],
        breaches: failed.map(([name, s]) => `warm: ${s.failed} of ${s.requests} requests failed ${name} (${s.failures.join('; ')})`),
      };
    } finally {
      await env.policy('minScale-');
    }
  },
};
