import { spawn } from 'node:child_process';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildPlan } from './detect.js';
import { staticServerFile } from './detect.js';
import { buildErrors } from './errors.js';

export interface RunBuildOptions {
  /** The checked-out tree; it becomes the release folder. */
  readonly dir: string;
  /** Each line of the build's output, as it comes. */
  readonly onLine: (line: string) => void;
  /** Shared between builds: npm's download cache. */
  readonly cacheDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
  /** Called when a step begins. */
  readonly onStep?: (name: string) => void;
}

const staticServerSource = fileURLToPath(new URL('./static-server.cjs', import.meta.url));

export interface RunCommandOptions {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly onLine: (line: string) => void;
  readonly signal?: AbortSignal;
}

/** Runs a command in its own process group, line by line to onLine; resolves with why it failed, or undefined. */
export function runCommand(command: readonly string[], options: RunCommandOptions): Promise<string | undefined> {
  return new Promise((resolve) => {
    const [program = '', ...args] = command;
    const child = spawn(program, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const abort = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    options.signal?.addEventListener('abort', abort, { once: true });
    let pending = '';
    const onData = (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split(/\r?\n|\r/);
      pending = lines.pop() ?? '';
      for (const line of lines) options.onLine(line);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (error) => resolve(`could not start (${error.message})`));
    child.on('close', (code, signal) => {
      options.signal?.removeEventListener('abort', abort);
      if (pending !== '') options.onLine(pending);
      resolve(code === 0 ? undefined : signal ? `was killed by ${signal}` : `exited ${code}`);
    });
  });
}

/** Runs the plan's steps in order in the release folder; throws BUILD_STEP_FAILED on the first failure. */
export async function runBuild(plan: BuildPlan, options: RunBuildOptions): Promise<void> {
  for (const step of plan.steps) {
    options.onStep?.(step.name);
    const failure = await runCommand(step.command, {
      cwd: options.dir,
      env: { ...options.env, npm_config_cache: options.cacheDir, npm_config_update_notifier: 'false', npm_config_fund: 'false' },
      onLine: options.onLine,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (failure !== undefined) throw buildErrors.stepFailed({ step: step.name, exit: failure });
  }
  if (plan.kind === 'static') await copyFile(staticServerSource, join(options.dir, staticServerFile));
}
