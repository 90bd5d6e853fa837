import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { closest } from '../crds/index.js';
import { isDormantError } from '../errors/index.js';
import { LocalStore, loadKubernetesBackend, type ResourceStore } from '../runtime/index.js';
import type { Command } from './command.js';
import { apply } from './commands/apply.js';
import { configGet, configList, configSet, configUnset } from './commands/config.js';
import { restart, rollback } from './commands/release.js';
import { ps } from './commands/ps.js';
import { run } from './commands/run.js';
import { appsInfo } from './commands/apps-info.js';
import { scale, start, stop } from './commands/scale.js';
import { diff } from './commands/diff.js';
import { certsAdd, certsAutoDisable, certsAutoEnable, certsList, certsRedirect, certsRemove } from './commands/certs.js';
import { domainsAdd, domainsList, domainsRemove } from './commands/domains.js';
import { appsCreate, appsDelete, appsList } from './commands/apps.js';
import { gc, images } from './commands/images.js';
import { keysAdd, keysList, keysRemove } from './commands/keys.js';
import { logs } from './commands/logs.js';
import { policyGet, policySet } from './commands/policy.js';
import { revisionsList } from './commands/revisions.js';
import { policySimulate } from './commands/simulate.js';
import { trace } from './commands/trace.js';
import { up } from './commands/up.js';
import { cliErrors } from './errors.js';
import type { Io } from './io.js';
import { parseOutputFormat } from './output.js';
import { readRuntimeRecord, resolveStateDir } from './settings.js';

export const commands: readonly Command[] = [
  up,
  appsList,
  appsCreate,
  appsDelete,
  appsInfo,
  revisionsList,
  rollback,
  restart,
  run,
  ps,
  scale,
  stop,
  start,
  configList,
  configGet,
  configSet,
  configUnset,
  domainsList,
  domainsAdd,
  domainsRemove,
  certsList,
  certsAdd,
  certsRemove,
  certsAutoEnable,
  certsAutoDisable,
  certsRedirect,
  logs,
  policyGet,
  policySet,
  policySimulate,
  trace,
  images,
  gc,
  keysAdd,
  keysList,
  keysRemove,
  apply,
  diff,
];

const commonOptions = {
  'state-dir': { type: 'string' },
  output: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

/** The help's topics, as Heroku's are grouped: each command under the first topic that names it. */
const helpTopics: readonly (readonly [string, readonly string[]])[] = [
  ['Apps', ['apps', 'apps create', 'apps info', 'apps delete']],
  ['Releases', ['releases', 'rollback', 'restart']],
  ['Config', ['config', 'config get', 'config set', 'config unset']],
  ['Domains and certificates', ['domains', 'domains add', 'domains remove', 'certs', 'certs add', 'certs remove', 'certs auto:enable', 'certs auto:disable', 'certs redirect']],
  ['Processes and scaling', ['ps', 'run', 'scale', 'stop', 'start', 'policy get', 'policy set', 'policy simulate']],
  ['Logs', ['logs', 'trace']],
  ['Dormant itself', ['up', 'keys add', 'keys list', 'keys remove', 'apply', 'diff', 'images', 'gc']],
];

function helpText(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const line = (c: Command) => `  dormant ${c.name.padEnd(width)}   ${c.summary}${c.aliases?.some((alias) => alias.includes(':')) ? ` (${c.aliases.filter((alias) => alias.includes(':')).join(', ')})` : ''}`;
  const placed = new Set(helpTopics.flatMap(([, names]) => names));
  const rest = commands.filter((c) => !placed.has(c.name));
  return [
    'dormant: scale-to-zero apps with git push deploy',
    '',
    ...helpTopics.flatMap(([topic, names]) => [`${topic}:`, ...names.flatMap((name) => commands.filter((c) => c.name === name).map(line)), '']),
    ...(rest.length > 0 ? ['Other:', ...rest.map(line), ''] : []),
    'Every command takes --state-dir DIR (default ./.dormant, or $DORMANT_HOME); listings take --output json|yaml.',
    'Run dormant COMMAND --help for its usage.',
    '',
  ].join('\n');
}

const names = (c: Command) => [c.name, ...(c.aliases ?? [])];

/** The longest command name (or alias) made of the leading words of argv. */
function findCommand(argv: readonly string[]): { command: Command; rest: string[] } | undefined {
  for (const words of [2, 1]) {
    const leading = argv.slice(0, words);
    if (leading.length < words || leading.some((w) => w.startsWith('-'))) continue;
    const command = commands.find((c) => names(c).includes(leading.join(' ')));
    if (command) return { command, rest: argv.slice(words) };
  }
  return undefined;
}

/** A word that starts commands but is not one by itself ("keys"), or a misspelt subcommand. */
function familyProblem(argv: readonly string[], found: ReturnType<typeof findCommand>): Error | undefined {
  const [word = '', subword = ''] = argv;
  const family = commands.filter((c) => c.name.startsWith(`${word} `));
  if (family.length === 0) return undefined;
  const subwords = family.map((c) => c.name.split(' ')[1] ?? '');
  const bare = subword === '' || subword.startsWith('-');
  if (!found && bare) {
    if (subword === '--help' || subword === '-h') return undefined;
    return cliErrors.usage({ problem: `dormant ${word} needs one of: ${subwords.join(', ')}`, usage: family.map((c) => c.usage).join('\n       ') });
  }
  // `dormant config APP` is the family's own command with its argument; `dormant config sett APP` is a misspelt subcommand.
  const max = found ? (typeof found.command.args === 'number' ? found.command.args : found.command.args[1]) : 0;
  const misspelt = closest(subword, subwords) !== undefined && (argv[2] ?? '-').startsWith('-') === false;
  const stray = found && found.rest.length === argv.length - 1 && !bare && (max === 0 || misspelt);
  if (!found || stray) {
    const guess = closest(subword, subwords);
    return cliErrors.unknownCommand({ command: `${word} ${subword}`, guess: guess === undefined ? undefined : `${word} ${guess}` });
  }
  return undefined;
}

function checkArgCount(command: Command, count: number): void {
  const [min, max] = typeof command.args === 'number' ? [command.args, command.args] : command.args;
  if (count >= min && count <= max) return;
  const plural = (n: number) => `${n} argument${n === 1 ? '' : 's'}`;
  const problem =
    count < min
      ? `dormant ${command.name} needs ${min === max ? plural(min) : `at least ${plural(min)}`}`
      : `dormant ${command.name} takes ${max === 0 ? 'no arguments' : `at most ${plural(max)}`}`;
  throw cliErrors.usage({ problem, usage: command.usage });
}

/** parseArgs' own message, said the way the rest of the CLI speaks. */
function flagProblem(error: Error, command: Command): Error {
  const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(error.message)?.[1];
  if (unknown) {
    const known = Object.entries({ ...commonOptions, ...command.options }).flatMap(([name, o]) => [`--${name}`, ...('short' in o && o.short ? [`-${o.short}`] : [])]);
    const guess = closest(unknown, known);
    return cliErrors.usage({ problem: `unknown flag ${unknown}${guess ? ` (did you mean ${guess}?)` : ''}`, usage: command.usage }, { cause: error });
  }
  return cliErrors.usage({ problem: error.message, usage: command.usage }, { cause: error });
}

/** A failed file operation (EACCES, ENOSPC, ...) said with the path and what to check. */
function ioProblem(error: unknown): Error | undefined {
  const failure = error as NodeJS.ErrnoException;
  if (typeof failure?.code !== 'string' || !failure.code.startsWith('E') || typeof failure.path !== 'string') return undefined;
  const reasons: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'not permitted',
    ENOSPC: 'no space left on the disk',
    ENOTDIR: 'a part of the path is not a folder',
    EROFS: 'the file system is read-only',
    EISDIR: 'it is a folder',
  };
  return cliErrors.io({ operation: failure.syscall ?? 'use', path: failure.path, reason: reasons[failure.code] ?? failure.code }, { cause: error });
}

/** Runs one command line; returns the process exit code. Never throws. */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  if (argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    io.stdout.write(helpText());
    return 0;
  }
  if (argv[0] === '--version' || argv[0] === 'version') {
    io.stdout.write(`dormant ${version()}\n`);
    return 0;
  }
  let store: ResourceStore | undefined;
  let failureExitCode: number | undefined;
  try {
    const found = findCommand(argv);
    const problem = familyProblem(argv, found);
    if (problem) throw problem;
    if (!found) {
      const word = argv[0] ?? '';
      const family = commands.filter((c) => c.name.startsWith(`${word} `));
      if (family.length > 0) {
        io.stdout.write(family.map((c) => `dormant ${c.name}: ${c.summary}\nusage: ${c.usage}\n`).join('\n'));
        return 0;
      }
      throw cliErrors.unknownCommand({ command: word, guess: closest(word, [...new Set(commands.flatMap((c) => names(c).map((name) => name.split(' ')[0] ?? '')))]) });
    }
    const { command, rest } = found;
    failureExitCode = command.failureExitCode;
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({ args: rest, options: { ...commonOptions, ...command.options }, allowPositionals: true, strict: true });
    } catch (error) {
      throw flagProblem(error as Error, command);
    }
    const flags = parsed.values as Record<string, string | boolean | string[] | undefined>;
    if (flags.help === true) {
      io.stdout.write(`${command.summary}\nusage: ${command.usage}\n`);
      return 0;
    }
    checkArgCount(command, parsed.positionals.length);
    const stateDir = resolveStateDir(flags, io);
    const output = parseOutputFormat(typeof flags.output === 'string' ? flags.output : undefined, command.usage);
    if (command.longRunning?.(flags)) io.catchStopSignals?.();
    const code = await command.run({
      io,
      args: parsed.positionals,
      flags,
      output,
      stateDir,
      store: async () => {
        if (store === undefined) {
          // A folder no dormant up has used: most often the command runs elsewhere than dormant up did (the state folder is ./.dormant of where each runs).
          if (command.name !== 'up' && !existsSync(stateDir)) {
            io.stderr.write(`warning: no dormant up has used the state folder ${resolve(stateDir)}; if yours runs from another folder, run this there, or set DORMANT_HOME (or --state-dir) to its state folder\n`);
          }
          // The store this state folder's dormant up uses (running or not): its cluster, or the local files.
          const record = await readRuntimeRecord(stateDir);
          // The domain of this state folder's dormant up, which the store checks hosts against.
          const domain = record.domain ?? io.env.DORMANT_DOMAIN ?? 'localhost';
          store =
            record.runtime === 'kubernetes'
              ? await (await loadKubernetesBackend()).KubeStore.open({ domain, ...(record.kubeconfig === undefined ? {} : { kubeconfig: record.kubeconfig }) })
              : await LocalStore.open({ stateDir, domain });
        }
        return store;
      },
    });
    return code ?? 0;
  } catch (caught) {
    const error = isDormantError(caught) ? caught : (ioProblem(caught) ?? caught);
    if (isDormantError(error)) {
      io.stderr.write(`error [${error.code}]: ${error.message}\n`);
      return failureExitCode ?? error.exitCode;
    }
    io.stderr.write(`error: unexpected failure, please report it: ${(error as Error).stack ?? String(error)}\n`);
    return failureExitCode ?? 1;
  } finally {
    await store?.close().catch(() => {});
  }
}

function processIo(): Io {
  const stop = new AbortController();
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    now: () => new Date(),
    stop: stop.signal,
    catchStopSignals: () => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
    },
  };
}
