import { type ParseArgsConfig, parseArgs } from 'node:util';
import { closest } from '../crds/index.js';
import { isDormantError } from '../errors/index.js';
import { LocalStore, type ResourceStore } from '../runtime/index.js';
import type { Command } from './command.js';
import { apply } from './commands/apply.js';
import { appsCreate, appsDelete, appsList } from './commands/apps.js';
import { keysAdd, keysList, keysRemove } from './commands/keys.js';
import { logs } from './commands/not-built.js';
import { policyGet, policySet } from './commands/policy.js';
import { revisionsList } from './commands/revisions.js';
import { up } from './commands/up.js';
import { cliErrors } from './errors.js';
import type { Io } from './io.js';
import { parseOutputFormat } from './output.js';
import { resolveStateDir } from './settings.js';

export const commands: readonly Command[] = [up, appsList, appsCreate, appsDelete, revisionsList, policyGet, policySet, keysAdd, keysList, keysRemove, apply, logs];

const commonOptions = {
  'state-dir': { type: 'string' },
  output: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

function helpText(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'dormant: scale-to-zero apps with git push deploy',
    '',
    'Commands:',
    ...commands.map((c) => `  dormant ${c.name.padEnd(width)}   ${c.summary}`),
    '',
    'Every command takes --state-dir DIR (default ./.dormant, or $DORMANT_HOME); listings take --output json|yaml.',
    'Run dormant COMMAND --help for its usage.',
    '',
  ].join('\n');
}

/** The longest command name made of the leading words of argv. */
function findCommand(argv: readonly string[]): { command: Command; rest: string[] } | undefined {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(' ');
    const command = commands.find((c) => c.name === name);
    if (command && argv.slice(0, words).every((w) => !w.startsWith('-'))) return { command, rest: argv.slice(words) };
  }
  return undefined;
}

function checkArgCount(command: Command, count: number): void {
  const [min, max] = typeof command.args === 'number' ? [command.args, command.args] : command.args;
  if (count >= min && count <= max) return;
  const problem = count < min ? `dormant ${command.name} needs ${min === max ? min : `at least ${min}`} argument${min === 1 ? '' : 's'}` : `dormant ${command.name} takes ${max === 0 ? 'no' : `at most ${max}`} arguments`;
  throw cliErrors.usage({ problem, usage: command.usage });
}

/** Runs one command line; returns the process exit code. Never throws. */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  if (argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    io.stdout.write(helpText());
    return 0;
  }
  let store: ResourceStore | undefined;
  try {
    const found = findCommand(argv);
    const word = argv[0] ?? '';
    const family = commands.filter((c) => c.name.startsWith(`${word} `));
    const subword = argv[1] ?? '';
    const strayWord = found && family.length > 0 && found.command.name === word && found.rest.length > 0 && !subword.startsWith('-');
    if ((!found && family.length > 0) || strayWord) {
      const names = family.map((c) => c.name);
      const guess = subword === '' ? undefined : closest(`${word} ${subword}`, names);
      if (subword === '' || subword.startsWith('-')) {
        throw cliErrors.usage({ problem: `dormant ${word} needs one of: ${names.map((n) => n.split(' ')[1]).join(', ')}`, usage: family.map((c) => c.usage).join('\n       ') });
      }
      throw cliErrors.unknownCommand({ command: `${word} ${subword}`, guess });
    }
    if (!found) {
      throw cliErrors.unknownCommand({ command: word, guess: closest(word, [...new Set(commands.map((c) => c.name.split(' ')[0] ?? ''))]) });
    }
    const { command, rest } = found;
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({ args: rest, options: { ...commonOptions, ...command.options }, allowPositionals: true, strict: true });
    } catch (error) {
      throw cliErrors.usage({ problem: (error as Error).message, usage: command.usage }, { cause: error });
    }
    const flags = parsed.values as Record<string, string | boolean | undefined>;
    if (flags.help === true) {
      io.stdout.write(`${command.summary}\nusage: ${command.usage}\n`);
      return 0;
    }
    checkArgCount(command, parsed.positionals.length);
    const stateDir = resolveStateDir(flags, io);
    const output = parseOutputFormat(typeof flags.output === 'string' ? flags.output : undefined, command.usage);
    const code = await command.run({
      io,
      args: parsed.positionals,
      flags,
      output,
      stateDir,
      store: async () => {
        store ??= await LocalStore.open({ stateDir });
        return store;
      },
    });
    return code ?? 0;
  } catch (error) {
    if (isDormantError(error)) {
      io.stderr.write(`error: ${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof RangeError) {
      io.stderr.write(`error: ${error.message}\n`);
      return 2;
    }
    io.stderr.write(`error: unexpected failure, please report it: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  } finally {
    await store?.close();
  }
}

function processIo(): Io {
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    now: () => new Date(),
    stop: stop.signal,
  };
}
