import { parseDuration } from '../../crds/index.js';
import { loadKubernetesBackend, readAppLogs } from '../../runtime/index.js';
import { readRuntimeRecord } from '../settings.js';
import type { Command } from '../command.js';
import { flagString } from '../command.js';
import { cliErrors } from '../errors.js';

export const logs: Command = {
  name: 'logs',
  usage: 'dormant logs APP [-f|--follow] [--since 5m] [--output json]',
  summary: "Show an app's logs, each line with its replica",
  args: 1,
  longRunning: (flags) => flags.follow === true,
  options: { follow: { type: 'boolean', short: 'f' }, since: { type: 'string' } },
  async run({ io, args, flags, output, store, stateDir }) {
    const [name = ''] = args;
    await (await store()).get('App', name);
    const since = flagString(flags, 'since');
    const sinceMs = since === undefined ? undefined : parseDuration(since);
    if (since !== undefined && sinceMs === undefined) {
      throw cliErrors.usage({ problem: `--since ${since} is not a duration; use one such as 30s, 5m or 2h`, usage: logs.usage });
    }
    const options = { follow: flags.follow === true, signal: io.stop, ...(sinceMs === undefined ? {} : { sinceMs: io.now().getTime() - sinceMs }) };
    // On Kubernetes the lines are the app's pod logs, read through the apiserver.
    const record = await readRuntimeRecord(stateDir);
    const kubernetes = record.runtime === 'kubernetes' ? await loadKubernetesBackend() : undefined;
    const lines = kubernetes ? kubernetes.readPodLogs(kubernetes.loadKubeConfig(record.kubeconfig), 'default', name, options) : readAppLogs(stateDir, name, options);
    for await (const line of lines) {
      io.stdout.write(output === 'table' ? `${line.time} [${line.replica}] ${line.text}\n` : `${JSON.stringify(line)}\n`);
    }
    return undefined;
  },
};
