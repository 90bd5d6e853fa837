// A trickle of requests around the scale-to-zero boundary: none may fail.
import { type Scenario, sleep } from '../scenario.js';
import { firstByte } from './cold.js';

export const trickle: Scenario = {
  name: 'trickle',
  summary: 'one request every few seconds around the scale-to-zero boundary; zero failures allowed',
  async run({ env, log, smoke }) {
    // stableWindow and grace 6 s: the gaps fall before, at and after the moment of scaling to zero.
    const gapsS = smoke ? [5.8, 6.2, 7] : [2, 5, 5.8, 6, 6.2, 6.5, 7, 8, 3, 6.1, 6.4, 6.9, 10, 5.9];
    await env.policy('stableWindow=6s', 'scaleToZeroGracePeriod=6s');
    const failures: string[] = [];
    let colds = 0;
    try {
      await firstByte(env.dormant.httpPort, env.host);
      for (const gap of gapsS) {
        await sleep(gap * 1000);
        const answer = await firstByte(env.dormant.httpPort, env.host).catch((error: Error) => ({ status: 0, body: error.message, ms: 0, coldStartMs: undefined }));
        if (answer.status !== 200) failures.push(`after ${gap} s: ${answer.status} ${answer.body.slice(0, 100)}`);
        if (answer.coldStartMs !== undefined) colds++;
      }
      log(`trickle: ${gapsS.length} requests, ${colds} woke the app, ${failures.length} failed`);
    } finally {
      await env.policy('stableWindow-', 'scaleToZeroGracePeriod-');
    }
    const figures = { requests: gapsS.length + 1, failed: failures.length, cold_starts: colds };
    return {
      figures,
      rows: [{ figure: 'trickle: failed requests around the scale-to-zero boundary', value: figures.failed, unit: `of ${figures.requests} (${colds} cold)` }],
      breaches: failures.length > 0 ? [`trickle: failed = ${failures.length} (must be 0): ${failures.join('; ')}`] : [],
    };
  },
};
