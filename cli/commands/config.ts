/**
 * An app's config (Heroku's config vars): its environment variables, kept in the App's
 * spec.run.env (the state folder, readable by Dormant's user only). A change is released
 * at once by the running dormant up as a new Revision of the build that serves (no
 * rebuild), unless --no-restart stages it for the next deploy.
 */
import type { App } from '../../crds/index.js';
import { type ResourceStore, updateWithRetry } from '../../runtime/index.js';
import type { Command, CommandContext } from '../command.js';
import { isDormantError } from '../../errors/index.js';
import { cliErrors } from '../errors.js';
import { formatTable, print } from '../output.js';
import { requestRelease } from '../release-client.js';
import { currentSettings } from '../settings.js';

const variableName = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** What Dormant sets itself in every replica. */
const reserved = (key: string) => key === 'PORT' || key.startsWith('DORMANT_');
const maxValueBytes = 32 * 1024;
const masked = '********';

function checkKey(key: string, usage: string): void {
  if (!variableName.test(key) || key.length > 256) throw cliErrors.usage({ problem: `"${key.slice(0, 80)}" is not a variable name (letters, digits and _, not starting with a digit, like DATABASE_URL)`, usage });
  if (reserved(key)) throw cliErrors.configReserved({ key });
}

/** KEY=VALUE arguments, in order (a later one wins). */
export function parseConfigPairs(args: readonly string[], usage: string): Map<string, string> {
  const pairs = new Map<string, string>();
  for (const arg of args) {
    const at = arg.indexOf('=');
    if (at <= 0) throw cliErrors.usage({ problem: `"${arg.slice(0, 80)}" is not KEY=VALUE`, usage });
    const key = arg.slice(0, at);
    const value = arg.slice(at + 1);
    checkKey(key, usage);
    if (value.includes('\0')) throw cliErrors.usage({ problem: `the value of ${key} has a NUL byte, which no environment can hold`, usage });
    if (Buffer.byteLength(value) > maxValueBytes) throw cliErrors.usage({ problem: `the value of ${key} is over ${maxValueBytes / 1024} KiB; keep large data in a file of the app`, usage });
    pairs.set(key, value);
  }
  return pairs;
}

async function changeConfig(store: ResourceStore, name: string, change: (env: Record<string, string>) => Record<string, string>): Promise<App> {
  return updateWithRetry(async () => {
    const app = await store.get('App', name);
    return store.update({ ...app, spec: { ...app.spec, run: { ...app.spec.run, env: change({ ...app.spec.run.env }) } } });
  });
}

/**
 * A config change: made and released by the running dormant up, under the app's lock (so
 * that a rollback and a change never undo each other); saved here when nothing is to be
 * released (--no-restart, nothing deployed, no dormant up), and said so.
 */
async function changeAndRelease(context: CommandContext, name: string, set: Readonly<Record<string, string>>, unset: readonly string[]): Promise<number | undefined> {
  const { io, flags } = context;
  const store = await context.store();
  const app = await store.get('App', name);
  const settings = await currentSettings(flags, io);
  const releasing = flags['no-restart'] !== true && app.status?.readyRevision !== undefined && settings.running !== undefined && settings.metricsPort !== 0;
  if (!releasing) {
    await changeConfig(store, name, (env) => ({ ...Object.fromEntries(Object.entries(env).filter(([key]) => !unset.includes(key))), ...set }));
    if (flags['no-restart'] === true) io.stdout.write(`Staged on ${name}: the next deploy (git push, or a later config change) releases it.\n`);
    else if (app.status?.readyRevision === undefined) io.stdout.write(`Saved on ${name}; nothing is deployed yet: the first git push uses it.\n`);
    else io.stdout.write(`Saved on ${name}; no dormant up is running on ${settings.stateDir} to release it: the next push does (or this command again once it runs).\n`);
    return undefined;
  }
  try {
    const released = await requestRelease(io, settings, name, { kind: 'config', set, unset });
    io.stdout.write(`Released ${released.version} (${released.revision}) of ${name} with the new config: ${released.url}\n`);
    return undefined;
  } catch (error) {
    // Saved by dormant up before its release failed (a refused request, a dormant up that cannot be reached, saved nothing).
    if (isDormantError(error) && error.code.startsWith('GITD_') && error.code !== 'GITD_RELEASE_INVALID') io.stderr.write(`The config change is saved on ${name} (dormant config ${name} shows it) and did not release: the release serving now is unchanged.\n`);
    throw error;
  }
}

const releaseOptions = { 'no-restart': { type: 'boolean' } } as const;

export const configList: Command = {
  name: 'config',
  usage: 'dormant config APP [--reveal] [--output json|yaml]',
  summary: "Show an app's config vars (values masked unless --reveal)",
  args: 1,
  options: { reveal: { type: 'boolean' } },
  async run({ io, args, flags, output, store }) {
    const app = await (await store()).get('App', args[0] ?? '');
    const reveal = flags.reveal === true;
    const env = Object.fromEntries(Object.entries(app.spec.run.env).sort(([a], [b]) => a.localeCompare(b)).map(([key, value]) => [key, reveal ? value : masked]));
    print(io, output, env, () =>
      Object.keys(env).length === 0 ? `${app.metadata.name} has no config vars; dormant config set ${app.metadata.name} KEY=VALUE adds one.\n` : formatTable(['KEY', 'VALUE'], Object.entries(env)),
    );
    return undefined;
  },
};

export const configGet: Command = {
  name: 'config get',
  aliases: ['config:get'],
  usage: 'dormant config get APP KEY',
  summary: 'Print the value of one config var',
  args: 2,
  async run({ io, args, store }) {
    const [name = '', key = ''] = args;
    const app = await (await store()).get('App', name);
    const value = app.spec.run.env[key];
    if (value === undefined) throw cliErrors.configNotSet({ app: name, key });
    io.stdout.write(`${value}\n`);
    return undefined;
  },
};

export const configSet: Command = {
  name: 'config set',
  aliases: ['config:set'],
  usage: 'dormant config set APP KEY=VALUE... [--no-restart]',
  summary: 'Set config vars and release them (a new release of the same build, no rebuild)',
  args: [2, 256],
  options: releaseOptions,
  async run(context) {
    const [name = '', ...pairsText] = context.args;
    const pairs = parseConfigPairs(pairsText, configSet.usage);
    context.io.stderr.write(`Setting ${[...pairs.keys()].join(', ')} on ${name}\n`);
    return changeAndRelease(context, name, Object.fromEntries(pairs), []);
  },
};

export const configUnset: Command = {
  name: 'config unset',
  aliases: ['config:unset'],
  usage: 'dormant config unset APP KEY... [--no-restart]',
  summary: 'Remove config vars and release the change',
  args: [2, 256],
  options: releaseOptions,
  async run(context) {
    const [name = '', ...keys] = context.args;
    for (const key of keys) checkKey(key, configUnset.usage);
    const resources = await context.store();
    const before = await resources.get('App', name);
    const present = keys.filter((key) => before.spec.run.env[key] !== undefined);
    if (present.length === 0) {
      context.io.stdout.write(`${name} has none of ${keys.join(', ')} set; nothing to do.\n`);
      return undefined;
    }
    context.io.stderr.write(`Unsetting ${present.join(', ')} on ${name}\n`);
    return changeAndRelease(context, name, {}, present);
  },
};

