/** An app's bounds (Heroku's ps:scale, as the policy's minScale and maxScale), and stopping it. */
import { updateWithRetry } from '../../runtime/index.js';
import type { Command } from '../command.js';
import { cliErrors } from '../errors.js';
import { policySet } from './policy.js';

const bounds: Readonly<Record<string, string>> = { min: 'minScale', max: 'maxScale' };

export const scale: Command = {
  name: 'scale',
  aliases: ['ps:scale'],
  usage: 'dormant scale APP min=N max=N   (max- removes the bound; to serve nothing: dormant stop APP)',
  summary: "Set the bounds of an app's replicas (the policy's minScale and maxScale)",
  args: [2, 3],
  async run(context) {
    const [name = '', ...settings] = context.args;
    const assignments = settings.map((setting) => {
      const named = /^(min|max)(=(\d{1,4})|-)$/.exec(setting);
      // Heroku's ps:scale web=2 sets a count; Dormant scales by demand between bounds.
      if (!named?.[1]) throw cliErrors.usage({ problem: `"${setting.slice(0, 80)}" is not min=N, max=N or max-${/^[a-z][\w-]*=\d+$/i.test(setting) ? ` (Dormant scales each app between bounds by its requests: to keep ${setting.split('=')[1]} running, dormant scale APP min=${setting.split('=')[1]})` : ''}`, usage: scale.usage });
      if (named[1] === 'max' && named[3] === '0') throw cliErrors.usage({ problem: 'max=0 would leave a request nothing to wake; to serve nothing, use dormant stop APP (and dormant start APP)', usage: scale.usage });
      return `${bounds[named[1]]}${named[2] === '-' ? '-' : named[2]}`;
    });
    return policySet.run({ ...context, args: [name, ...assignments] });
  },
};

async function setStopped(context: Parameters<Command['run']>[0], stopped: boolean): Promise<'changed' | 'unchanged'> {
  const [name = ''] = context.args;
  const store = await context.store();
  return updateWithRetry(async () => {
    const app = await store.get('App', name);
    if ((app.spec.stopped === true) === stopped) return 'unchanged';
    const { stopped: _was, ...spec } = app.spec;
    await store.update({ ...app, spec: stopped ? { ...spec, stopped } : spec });
    return 'changed';
  });
}

export const stop: Command = {
  name: 'stop',
  usage: 'dormant stop APP',
  summary: 'Stop an app: its replicas go, and every request is answered 503 saying it is stopped',
  args: 1,
  async run(context) {
    const name = context.args[0] ?? '';
    const done = await setStopped(context, true);
    context.io.stdout.write(done === 'changed' ? `Stopped ${name}: it serves nothing until dormant start ${name}.\n` : `${name} is stopped already.\n`);
    return undefined;
  },
};

export const start: Command = {
  name: 'start',
  usage: 'dormant start APP',
  summary: 'Start a stopped app again: it scales as its policy says (from zero, woken by its first request)',
  args: 1,
  async run(context) {
    const name = context.args[0] ?? '';
    const done = await setStopped(context, false);
    context.io.stdout.write(done === 'changed' ? `Started ${name}: its next request wakes it.\n` : `${name} is not stopped.\n`);
    return undefined;
  },
};
