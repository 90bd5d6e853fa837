// Cold start: the first request to an app at zero, next to the app's own boot by hand.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { freePort } from '../../test/git-support.js';
import { round, type Scenario } from '../scenario.js';
import { percentile } from '../vegeta.js';

/** Time to the response's first byte (its headers), and its cold-start header. */
export function firstByte(port: number, host: string, path = '/'): Promise<{ ms: number; status: number; coldStartMs: number | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      const ms = performance.now() - started;
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        const header = res.headers['x-dormant-cold-start'];
        resolve({ ms, status: res.statusCode ?? 0, coldStartMs: typeof header === 'string' ? Number(header) : undefined, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * The app's own boot, runs times, measured as the wake-up is: `node server.js` by hand
 * (with the given node), from its spawn to the first byte of its first answer (a GET
 * tried every 2 ms, as the runtime's probes are).
 */
export async function bootsByHand(dir: string, runs: number, node = process.execPath): Promise<number[]> {
  const boots: number[] = [];
  for (let i = 0; i < runs; i++) {
    const port = await freePort();
    const started = performance.now();
    const app = spawn(node, ['server.js'], { cwd: dir, env: { PATH: process.env.PATH, PORT: String(port) }, stdio: 'ignore' });
    for (;;) {
      const answered = await firstByte(port, '127.0.0.1').then(
        (answer) => answer.status === 200,
        () => false,
      );
      if (answered) break;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    boots.push(performance.now() - started);
    app.kill();
    await once(app, 'exit');
  }
  return boots;
}

export const cold: Scenario = {
  name: 'cold',
  summary: 'N requests to the app at zero: time to first byte, against the app booting by hand',
  async run({ env, log, smoke }) {
    const runs = smoke ? 2 : 10;
    await env.policy('stableWindow=6s', 'scaleToZeroGracePeriod=0s');
    const firstBytes: number[] = [];
    const held: number[] = [];
    const failures: string[] = [];
    try {
      for (let i = 0; i < runs; i++) {
        await env.untilAtZero();
        const answer = await firstByte(env.dormant.httpPort, env.host);
        if (answer.status !== 200) failures.push(`${answer.status} ${answer.body.slice(0, 100)}`);
        firstBytes.push(answer.ms);
        if (answer.coldStartMs !== undefined) held.push(answer.coldStartMs);
        log(`cold: run ${i + 1}/${runs}: first byte after ${answer.ms.toFixed(1)} ms (held ${answer.coldStartMs ?? '?'} ms)`);
      }
    } finally {
      await env.policy('stableWindow-', 'scaleToZeroGracePeriod-');
    }
    const boots = await bootsByHand(env.copy.dir, runs);
    const figures = {
      runs,
      p50_ms: round(percentile(firstBytes, 50)),
      p90_ms: round(percentile(firstBytes, 90)),
      p99_ms: round(percentile(firstBytes, 99)),
      held_p50_ms: round(percentile(held, 50)),
      app_boot_p50_ms: round(percentile(boots, 50)),
      overhead_p50_ms: round(percentile(firstBytes, 50) - percentile(boots, 50)),
    };
    return {
      figures,
      rows: [
        { figure: `cold: first byte from zero, p50 of ${runs}`, value: figures.p50_ms, unit: 'ms', reference: { name: 'app boot by hand', value: figures.app_boot_p50_ms } },
        { figure: `cold: first byte from zero, p99 of ${runs}`, value: figures.p99_ms, unit: 'ms' },
        { figure: 'cold: overhead over the app booting by hand, p50', value: figures.overhead_p50_ms, unit: 'ms' },
      ],
      breaches: failures.length > 0 ? [`cold: ${failures.length} of ${runs} first requests failed (${failures.join('; ')})`] : [],
    };
  },
};
