// Deploy under load: steady requests while a git push rolls out a new version.
import { round, type Scenario, sleep } from '../scenario.js';
import { attack, summarize } from '../vegeta.js';

export const deploy: Scenario = {
  name: 'deploy',
  summary: 'constant load during a git push of a new version: zero failures, only the new version after the push returns',
  async run({ env, tools, log, smoke }) {
    const rate = smoke ? 50 : 200;
    const durationS = smoke ? 6 : 15;
    await env.policy('minScale=1');
    try {
      await env.dormant.get('bench');
      log(`deploy: ${rate} requests/s for ${durationS} s; git push of a new version after 2 s`);
      const load = attack(tools.vegeta, { target: { url: env.activatorUrl, host: env.host }, rate, durationS });
      await sleep(2000);
      const pushed = await env.pushNextVersion();
      log(`deploy: ${pushed.version} pushed and serving in ${pushed.seconds.toFixed(2)} s`);
      const hits = await load;
      const summary = summarize(hits);
      const after = hits.filter((h) => h.atMs > pushed.returnedAtMs);
      const oldAfter = after.filter((h) => h.body.trim() !== pushed.version);
      const figures = { requests: summary.requests, failed: summary.failed, requests_after_push: after.length, old_version_after_push: oldAfter.length, push_seconds: round(pushed.seconds, 2) };
      const breaches: string[] = [];
      if (summary.failed > 0) breaches.push(`deploy: failed = ${summary.failed} of ${summary.requests} (must be 0): ${summary.failures.join('; ')}`);
      if (oldAfter.length > 0) breaches.push(`deploy: old_version_after_push = ${oldAfter.length} (must be 0), e.g. "${oldAfter[0]?.body.trim()}"`);
      if (after.length === 0) breaches.push('deploy: no request was sent after the push returned; the run proves nothing');
      return {
        figures,
        rows: [
          { figure: `deploy: failed requests during a push at ${rate} req/s`, value: figures.failed, unit: `of ${figures.requests}` },
          { figure: 'deploy: answers from the old version after the push returned', value: figures.old_version_after_push, unit: `of ${figures.requests_after_push}` },
          { figure: 'deploy: git push under load, to serving', value: figures.push_seconds, unit: 's' },
        ],
        breaches,
      };
    } finally {
      await env.policy('minScale-');
    }
  },
};
