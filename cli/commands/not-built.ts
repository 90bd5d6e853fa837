import type { Command } from '../command.js';
import { cliErrors } from '../errors.js';

/** Commands whose component does not exist yet: they say so instead of pretending. */
function notBuilt(name: string, usage: string, summary: string, needs: string): Command {
  return {
    name,
    usage,
    summary: `${summary} (not built yet)`,
    args: [0, 8],
    options: { follow: { type: 'boolean', short: 'f' }, since: { type: 'string' } },
    run: () => Promise.reject(cliErrors.notBuilt({ command: name, needs })),
  };
}

export const logs = notBuilt('logs', 'dormant logs APP [-f] [--since 5m]', "Show an app's logs", 'the local runtime that runs replicas');
