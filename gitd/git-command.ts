/**
 * What an SSH exec request asks of gitd, parsed from the command line git sends:
 * `git-receive-pack '/hello.git'` (the path shell-quoted, with or without / and .git).
 */
import { apiVersion, formatProblem, validateAs } from '../crds/index.js';
import type { DormantError } from '../errors/index.js';
import { gitdErrors } from './errors.js';

export type GitCommand = { readonly ok: true; readonly service: 'git-receive-pack'; readonly app: string } | { readonly ok: false; readonly error: DormantError };

/** One shell word: '...' or "..." or bare. */
function unquote(word: string): string | undefined {
  const single = /^'([^']*)'$/.exec(word);
  if (single) return single[1];
  const double = /^"([^"\\$`]*)"$/.exec(word);
  if (double) return double[1];
  return /^[^\s'"\\$`;&|<>]+$/.test(word) ? word : undefined;
}

export function parseGitCommand(command: string): GitCommand {
  const trimmed = command.trim();
  const space = trimmed.indexOf(' ');
  const program = space < 0 ? trimmed : trimmed.slice(0, space);
  const argument = space < 0 ? '' : trimmed.slice(space + 1).trim();
  if (program === 'git-upload-pack' || program === 'git-upload-archive') return { ok: false, error: gitdErrors.notSupported({ program }) };
  const path = program === 'git-receive-pack' ? unquote(argument) : undefined;
  if (path === undefined || path === '') return { ok: false, error: gitdErrors.badCommand({ command: trimmed }) };
  const app = path.replace(/^\/+/, '').replace(/\.git$/, '').replace(/\/+$/, '');
  const checked = validateAs('App', { apiVersion, kind: 'App', metadata: { name: app }, spec: {} });
  if (!checked.ok) {
    const problems = checked.problems.filter((p) => p.path.startsWith('metadata.name')).map(formatProblem);
    if (problems.length > 0) return { ok: false, error: gitdErrors.badAppName({ app, problems }) };
  }
  return { ok: true, service: 'git-receive-pack', app };
}
