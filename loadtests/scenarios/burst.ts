// 1,000 users hit a sleeping app at once: every request must be answered.
import { round, type Scenario } from '../scenario.js';
import { attack, summarize } from '../vegeta.js';

export const burst: Scenario = {
  name: 'burst',
  summary: '1,000 concurrent users at once against an app at zero; zero failures allowed',
  async run({ env, tools, log, smoke }) {
    const users = smoke ? 200 : 1000;
    await env.policy('stableWindow=6s', 'scaleToZeroGracePeriod=0s');
    try {
      await env.untilAtZero();
      let peakRss = await env.rssMb();
      const sampler = setInterval(() => {
        void env.rssMb().then((mb) => {
          peakRss = Math.max(peakRss, mb);
        });
      }, 100);
      log(`burst: ${users} users at once for 3 s against ${env.host} at zero`);
      const hits = await attack(tools.vegeta, { target: { url: env.activatorUrl, host: env.host }, rate: 0, workers: users, durationS: 3 }).finally(() => clearInterval(sampler));
      const summary = summarize(hits);
      const figures = { users, requests: summary.requests, failed: summary.failed, p99_ms: round(summary.p99Ms), activator_rss_mb_peak: round(peakRss) };
      return {
        figures,
        rows: [
          { figure: `burst: requests from ${users} users at zero, failed`, value: figures.failed, unit: `of ${figures.requests}` },
          { figure: 'burst: p99 latency (includes the wake-up)', value: figures.p99_ms, unit: 'ms' },
          { figure: 'burst: dormant up resident memory, peak', value: figures.activator_rss_mb_peak, unit: 'MiB' },
        ],
        breaches: summary.failed > 0 ? [`burst: failed = ${summary.failed} of ${summary.requests} (must be 0): ${summary.failures.join('; ')}`] : [],
      };
    } finally {
      await env.policy('stableWindow-', 'scaleToZeroGracePeriod-');
    }
  },
};
