/** Releases of an earlier build by the running dormant up: a rollback, a restart. */
import type { Command } from '../command.js';
import { cliErrors } from '../errors.js';
import { requestRelease } from '../release-client.js';
import { currentSettings } from '../settings.js';

export const rollback: Command = {
  name: 'rollback',
  aliases: ['releases:rollback'],
  usage: 'dormant rollback APP [vN]   (default: the release before the one serving)',
  summary: "Release an earlier release's build and config again, at once, without a build",
  args: [1, 2],
  async run({ io, args, flags, store }) {
    const [name = '', to] = args;
    await (await store()).get('App', name);
    const settings = await currentSettings(flags, io);
    if (!settings.running || settings.metricsPort === 0) throw cliErrors.notRunning({ stateDir: settings.stateDir, purpose: `roll ${name} back` });
    const released = await requestRelease(io, settings, name, { kind: 'rollback', ...(to === undefined ? {} : { to }) });
    io.stdout.write(`Rolled ${name} back: ${released.version} (${released.revision}) serves at ${released.url}\n`);
    return undefined;
  },
};

export const restart: Command = {
  name: 'restart',
  aliases: ['ps:restart'],
  usage: 'dormant restart APP',
  summary: 'Replace every replica of an app, new ones ready before old ones stop (a release of the same build and config)',
  args: 1,
  async run({ io, args, flags, store }) {
    const [name = ''] = args;
    await (await store()).get('App', name);
    const settings = await currentSettings(flags, io);
    if (!settings.running || settings.metricsPort === 0) throw cliErrors.notRunning({ stateDir: settings.stateDir, purpose: `restart ${name}` });
    const released = await requestRelease(io, settings, name, { kind: 'restart' });
    io.stdout.write(`Restarted ${name}: ${released.version} (${released.revision}) serves at ${released.url}\n`);
    return undefined;
  },
};
