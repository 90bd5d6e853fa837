// git push to serving: a new small Node app, from the push to its first answer.
import { benchAppFiles } from '../bench-env.js';
import { round, type Scenario } from '../scenario.js';
import { WorkingCopy } from '../../test/git-support.js';

export const push: Scenario = {
  name: 'push',
  summary: 'a new app without dependencies: git push until its first answer',
  async run({ env, log }) {
    const copy = await WorkingCopy.create(env.dormant.work, `pushed-${Date.now()}`, env.dormant.adminKey);
    await copy.commit(benchAppFiles('fresh'));
    const started = performance.now();
    const pushed = await copy.push(env.dormant.remote('fresh'));
    const pushS = (performance.now() - started) / 1000;
    const answer = await env.dormant.get('fresh');
    const totalS = (performance.now() - started) / 1000;
    log(`push: pushed in ${pushS.toFixed(2)} s, first answer at ${totalS.toFixed(2)} s`);
    const breaches = pushed.code !== 0 || answer.status !== 200 ? [`push: the push or its first request failed: ${pushed.stderr.slice(-300)} ${answer.status}`] : [];
    const figures = { seconds_to_serving: round(totalS, 2), push_seconds: round(pushS, 2) };
    return {
      figures,
      rows: [{ figure: 'push: git push to the first answer of a new app (target 2 s)', value: figures.seconds_to_serving, unit: 's', reference: { name: 'target', value: 2 } }],
      breaches,
    };
  },
};
