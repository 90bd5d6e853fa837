import type { ParseArgsConfig } from 'node:util';
import type { ResourceStore } from '../runtime/index.js';
import type { Io } from './io.js';
import type { OutputFormat } from './output.js';

export type Flags = Readonly<Record<string, string | boolean | string[] | undefined>>;

export interface CommandContext {
  readonly io: Io;
  readonly args: readonly string[];
  readonly flags: Flags;
  readonly output: OutputFormat;
  readonly stateDir: string;
  /** Opened on first use and closed after the command. */
  readonly store: () => Promise<ResourceStore>;
}

export interface Command {
  /** The words that select it: "apps create". */
  readonly name: string;
  readonly usage: string;
  readonly summary: string;
  readonly options?: NonNullable<ParseArgsConfig['options']>;
  /** Other words that select it: "apps list" for "apps". */
  readonly aliases?: readonly string[];
  /** Runs until stopped (up, logs -f): Ctrl-C and SIGTERM end it through io.stop. */
  readonly longRunning?: (flags: Flags) => boolean;
  /** Positional arguments: exact count, or [min, max]. */
  readonly args: number | readonly [number, number];
  /** The exit code of any failure, when 1 means something else (diff: 1 is "there are differences"). */
  readonly failureExitCode?: number;
  /** Returns the exit code; undefined means 0. */
  run(context: CommandContext): Promise<number | undefined>;
}

export const flagString = (flags: Flags, name: string): string | undefined => {
  const value = flags[name];
  return typeof value === 'string' ? value : undefined;
};

/** A flag given several times (`--policy a --policy b`). */
export const flagStrings = (flags: Flags, name: string): string[] => {
  const value = flags[name];
  return Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
};
