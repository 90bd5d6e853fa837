// npm run bench [-- SCENARIO...] [-- --smoke]: runs the load scenarios against a real
// dormant up, prints one table with every figure next to its reference from the same run,
// writes loadtests/results/<time>.json and latest.json, and fails on a breached threshold.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchEnvironment } from './bench-env.js';
import { formatTable } from './report.js';
import type { Scenario, ScenarioResult } from './scenario.js';
import { burst } from './scenarios/burst.js';
import { cold } from './scenarios/cold.js';
import { dockerfileCold } from './scenarios/dockerfile-cold.js';
import { deploy } from './scenarios/deploy.js';
import { k8sCold } from './scenarios/k8s-cold.js';
import { push } from './scenarios/push.js';
import { step } from './scenarios/step.js';
import { trickle } from './scenarios/trickle.js';
import { warm } from './scenarios/warm.js';
import { BenchSetupError, ensureTools } from './tools.js';

const scenarios: readonly Scenario[] = [push, warm, cold, dockerfileCold, burst, step, deploy, trickle, k8sCold];
const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));

function usage(): string {
  return [
    'usage: npm run bench [-- SCENARIO...] [-- --smoke]',
    '',
    ...scenarios.map((s) => `  ${s.name.padEnd(15)} ${s.summary}`),
    '',
    '--smoke runs each briefly (a check that the scenarios work, not a measurement).',
  ].join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const smoke = argv.includes('--smoke');
  const names = argv.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !scenarios.some((s) => s.name === n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario ${unknown.join(', ')}\n${usage()}\n`);
    return 2;
  }
  const chosen = names.length === 0 ? scenarios : scenarios.filter((s) => names.includes(s.name) || (s.alsoWith ?? []).some((name) => names.includes(name)));
  const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
  const tools = ensureTools(log);
  await mkdir(resultsDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const env = await BenchEnvironment.start(tools.nginx, log);
  const stop = () => {
    void env.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const results: Record<string, ScenarioResult> = {};
  try {
    for (const scenario of chosen) {
      log(`--- ${scenario.name}: ${scenario.summary}`);
      results[scenario.name] = await scenario.run({ env, tools, log, smoke, resultsDir, stamp });
    }
  } finally {
    await env.stop();
  }
  const report = {
    machine: `${cpus().length} cpu / ${(totalmem() / 2 ** 30).toFixed(0)} GiB / linux ${release()}`,
    when: new Date().toISOString(),
    smoke,
    ...Object.fromEntries(Object.entries(results).map(([name, r]) => [name, r.figures])),
  };
  const json = `${JSON.stringify(report, null, 2)}\n`;
  await writeFile(join(resultsDir, `${stamp}.json`), json);
  await writeFile(join(resultsDir, 'latest.json'), json);
  process.stdout.write(`\n${formatTable(Object.values(results).flatMap((r) => r.rows))}\n\n`);
  process.stdout.write(`results: loadtests/results/${stamp}.json (and latest.json); ${report.machine}\n`);
  const breaches = Object.values(results).flatMap((r) => r.breaches);
  for (const breach of breaches) process.stdout.write(`THRESHOLD BREACHED: ${breach}\n`);
  return breaches.length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(error instanceof BenchSetupError ? `bench: ${error.message}\n` : `bench: failed: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
