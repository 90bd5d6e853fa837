// git push to serving: a new small Node app, from the push to its first answer; then each
// stack's fixture (test/fixtures/apps, shaped like public starters) pushed twice: cold (a
// new app: its dependency caches empty; the machine's toolchains and stacks already here)
// and warm (one changed source line, the lockfile unchanged), each to its first answer.
import { benchAppFiles } from '../bench-env.js';
import { round, type Scenario, type TableRow } from '../scenario.js';
import { fixtureApp, WorkingCopy } from '../../test/git-support.js';

/** Each stack's fixture, the line a warm push changes, and the warm target (seconds). */
const stacks: readonly { name: string; fixture: string; file: string; from: string; to: string; target: number }[] = [
  { name: 'express', fixture: 'express-yarn', file: 'app.js', from: 'Hello from Express', to: 'Hello again from Express', target: 5 },
  { name: 'nextjs', fixture: 'nextjs-pnpm', file: 'app/page.tsx', from: 'Hello from Next.js', to: 'Hello again from Next.js', target: 15 },
  { name: 'flask', fixture: 'flask-hello', file: 'app.py', from: 'Hello from Flask', to: 'Hello again from Flask', target: 5 },
  { name: 'django', fixture: 'django-procfile', file: 'pages/views.py', from: 'Hello from Django', to: 'Hello again from Django', target: 5 },
  { name: 'go', fixture: 'go-cmd-server', file: 'internal/greeting/greeting.go', from: '"Hello from "', to: '"Hello again from "', target: 10 },
  { name: 'spring', fixture: 'spring-boot-maven', file: 'src/main/java/com/example/demo/DemoApplication.java', from: 'Hello from', to: 'Hello again from', target: 20 },
];

export const push: Scenario = {
  name: 'push',
  summary: 'a new app without dependencies: git push until its first answer; each stack’s fixture cold and warm',
  async run({ env, log, smoke }) {
    const rows: TableRow[] = [];
    const breaches: string[] = [];
    const figures: Record<string, number | Record<string, number>> = {};
    /** Pushes what copy has committed and asks until the app answers 200 with expected in its body; seconds from the push. */
    const toServing = async (copy: WorkingCopy, app: string, expected: string): Promise<number | undefined> => {
      const started = performance.now();
      const pushed = await copy.push(env.dormant.remote(app));
      const answer = await env.dormant.get(app);
      const seconds = (performance.now() - started) / 1000;
      if (pushed.code !== 0 || answer.status !== 200 || !answer.body.includes(expected)) {
        breaches.push(`push ${app}: the push or its first request failed: ${pushed.stderr.slice(-400)} ${answer.status} ${answer.body.slice(0, 200)}`);
        return undefined;
      }
      return seconds;
    };

    const copy = await WorkingCopy.create(env.dormant.work, `pushed-${Date.now()}`, env.dormant.adminKey);
    await copy.commit(benchAppFiles('fresh'));
    const totalS = await toServing(copy, 'fresh', 'fresh');
    log(`push: a new Node app serving at ${totalS?.toFixed(2)} s`);
    figures.seconds_to_serving = round(totalS ?? Number.NaN, 2);
    rows.push({ figure: 'push: git push to the first answer of a new app (target 2 s)', value: figures.seconds_to_serving, unit: 's', reference: { name: 'target', value: 2 } });

    for (const stack of smoke ? stacks.slice(1, 2) : stacks) {
      const app = `${stack.name}-${Date.now() % 100_000}`;
      const files = await fixtureApp(stack.fixture);
      const stackCopy = await WorkingCopy.create(env.dormant.work, app, env.dormant.adminKey);
      await stackCopy.commit(files);
      const cold = await toServing(stackCopy, app, stack.from.replaceAll('"', ''));
      await stackCopy.commit({ [stack.file]: (files[stack.file] ?? '').replace(stack.from, stack.to) });
      const warm = await toServing(stackCopy, app, stack.to.replaceAll('"', ''));
      log(`push: ${stack.name} cold ${cold?.toFixed(2)} s, warm ${warm?.toFixed(2)} s`);
      figures[`stack_${stack.name}`] = { cold_seconds: round(cold ?? Number.NaN, 2), warm_seconds: round(warm ?? Number.NaN, 2) };
      rows.push({ figure: `push: ${stack.fixture}, cold (a new app, empty dependency cache)`, value: round(cold ?? Number.NaN, 2), unit: 's' });
      rows.push({ figure: `push: ${stack.fixture}, warm (one source line changed; target ${stack.target} s)`, value: round(warm ?? Number.NaN, 2), unit: 's', reference: { name: 'target', value: stack.target } });
    }
    return { figures, rows, breaches };
  },
};
