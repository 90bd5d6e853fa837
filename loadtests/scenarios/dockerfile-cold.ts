// Dockerfile app cold start: the first request to a Dockerfile app at zero (its image run in
// the sandbox, or a podman container where bubblewrap is missing), against the same server
// booting by hand with the image's own node (from its unpacked tree), as `cold` does for a
// detected app. Run with `cold` too.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { WorkingCopy } from '../../test/git-support.js';
import { benchAppFiles } from '../bench-env.js';
import { round, type Scenario } from '../scenario.js';
import { percentile } from '../vegeta.js';
import { bootsByHand, firstByte } from './cold.js';

const app = 'benchbox';

/** The node of the app's unpacked image, to boot the same server by hand; the host's where there is none (podman containers). */
function imageNode(stateDir: string): { node: string; which: string } {
  const trees = join(stateDir, 'images', 'trees', app);
  const tree = existsSync(trees) ? readdirSync(trees).find((name) => !name.startsWith('.')) : undefined;
  const node = tree === undefined ? undefined : join(trees, tree, 'root', 'usr', 'local', 'bin', 'node');
  return node !== undefined && existsSync(node) ? { node, which: "the image's node" } : { node: process.execPath, which: "the host's node (no unpacked image)" };
}

export const dockerfileCold: Scenario = {
  name: 'dockerfile_cold',
  alsoWith: ['cold'],
  summary: 'N requests to a Dockerfile app at zero (its image in the sandbox), against the same server booting by hand',
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
      log(`dockerfile_cold: run ${i + 1}/${runs}: first byte after ${answer.ms.toFixed(1)} ms`);
    }
    const { node, which } = imageNode(env.dormant.stateDir);
    log(`dockerfile_cold: booting server.js by hand with ${which}`);
    const boots = await bootsByHand(copy.dir, runs, node);
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
        { figure: `dockerfile_cold: first byte from zero, p50 of ${runs}`, value: figures.p50_ms, unit: 'ms', reference: { name: 'app boot by hand', value: figures.app_boot_p50_ms } },
        { figure: `dockerfile_cold: first byte from zero, p99 of ${runs}`, value: figures.p99_ms, unit: 'ms' },
        { figure: 'dockerfile_cold: overhead over the app booting by hand, p50 (target 10 ms)', value: figures.overhead_p50_ms, unit: 'ms', reference: { name: 'target', value: 10 } },
      ],
      breaches: failures.length > 0 ? [`dockerfile_cold: ${failures.length} of ${runs} first requests failed (${failures.join('; ')})`] : [],
    };
  },
};
