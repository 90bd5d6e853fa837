// Container cold start: the first request to a Dockerfile app at zero (a podman container
// replica), against the same app booting as a process by hand.
import { WorkingCopy } from '../../test/git-support.js';
import { benchAppFiles } from '../bench-env.js';
import { round, type Scenario } from '../scenario.js';
import { percentile } from '../vegeta.js';
import { bootsByHand, firstByte } from './cold.js';

const app = 'benchbox';

export const containerCold: Scenario = {
  name: 'container_cold',
  summary: 'N requests to a Dockerfile app (container replicas) at zero, against the app booting as a process',
  async run({ env, log, smoke }) {
    const runs = smoke ? 2 : 10;
    const copy = await WorkingCopy.create(env.dormant.work, app, env.dormant.adminKey);
    await copy.commit({
      ...benchAppFiles('box'),
      Dockerfile: 'FROM node:20-slim\nWORKDIR /app\nCOPY server.js ./\nCMD ["node", "server.js"]\n',
    });
    const pushed = await copy.push(env.dormant.remote(app));
    if (pushed.code !== 0) throw new Error(`pushing the Dockerfile app failed (are podman and the base images there? bash hack/containers.sh && bash hack/base-images.sh):\n${pushed.stderr.slice(-600)}`);
    const policy = await env.dormant.dormant('policy', 'set', app, 'stableWindow=6s', 'scaleToZeroGracePeriod=0s');
    if (policy.code !== 0) throw new Error(policy.stderr);
    const firstBytes: number[] = [];
    const failures: string[] = [];
    for (let i = 0; i < runs; i++) {
      await env.untilAtZero(app);
      const answer = await firstByte(env.dormant.httpPort, `${app}.localhost`);
      if (answer.status !== 200) failures.push(`${answer.status} ${answer.body.slice(0, 100)}`);
      firstBytes.push(answer.ms);
      log(`container_cold: run ${i + 1}/${runs}: first byte after ${answer.ms.toFixed(1)} ms`);
    }
    const boots = await bootsByHand(copy.dir, runs);
    const figures = {
      runs,
      p50_ms: round(percentile(firstBytes, 50)),
      p99_ms: round(percentile(firstBytes, 99)),
      app_boot_p50_ms: round(percentile(boots, 50)),
      overhead_p50_ms: round(percentile(firstBytes, 50) - percentile(boots, 50)),
    };
    return {
      figures,
      rows: [
        { figure: `container_cold: first byte from zero, p50 of ${runs}`, value: figures.p50_ms, unit: 'ms', reference: { name: 'app boot as a process', value: figures.app_boot_p50_ms } },
        { figure: `container_cold: first byte from zero, p99 of ${runs}`, value: figures.p99_ms, unit: 'ms' },
        { figure: 'container_cold: overhead over the app booting as a process, p50 (bar 200 ms)', value: figures.overhead_p50_ms, unit: 'ms', reference: { name: 'bar', value: 200 } },
      ],
      breaches: failures.length > 0 ? [`container_cold: ${failures.length} of ${runs} first requests failed (${failures.join('; ')})`] : [],
    };
  },
};
