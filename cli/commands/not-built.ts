import type { Command } from '../command.js';
import { cliErrors } from '../errors.js';

/** Commands whose component does not exist yet: they say so instead of pretending. */
function notBuilt(name: string, usage: string, summary: string, needs: string): Command {
  return {
    name,
    usage,
    summary: `${summary} (not built yet)`,
    args: [0, 8],
    options: { metrics: { type: 'string' } },
    run: () => Promise.reject(cliErrors.notBuilt({ command: name, needs })),
  };
}

export const policySimulate = notBuilt(
  'policy simulate',
  'dormant policy simulate APP [--metrics FILE]',
  'Replay load through a policy and show the replicas it would choose',
  "the autoscaler's offline replay (issue #5)",
);
