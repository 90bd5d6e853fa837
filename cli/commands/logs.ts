import { parseDuration } from '../../crds/index.js';
import { loadKubernetesBackend, readAppLogs } from '../../runtime/index.js';
import { readRuntimeRecord } from '../settings.js';
import type { Command } from '../command.js';
import { flagString } from '../command.js';
import { cliErrors } from '../errors.js';

export const logs: Command = {
  name: 'logs',
  usage: 'dormant logs APP [-f|-t|--tail] [--since 5m] [--source app|platform] [--output json]',
  summary: "Show an app's logs: its replicas' lines and the platform's events (deploys, scaling, cold starts, crashes)",
  args: 1,
  longRunning: (flags) => flags.follow === true || flags.tail === true,
  options: { follow: { type: 'boolean', short: 'f' }, tail: { type: 'boolean', short: 't' }, since: { type: 'string' }, source: { type: 'string' } },
  async run({ io, args, flags, output, store, stateDir }) {
    const [name = ''] = args;
    await (await store()).get('App', name);
    const since = flagString(flags, 'since');
    const sinceMs = since === undefined ? undefined : parseDuration(since);
    if (since !== undefined && sinceMs === undefined) {
      throw cliErrors.usage({ problem: `--since ${since} is not a duration; use one such as 30s, 5m or 2h`, usage: logs.usage });
    }
    const source = flagString(flags, 'source');
    if (source !== undefined && source !== 'app' && source !== 'platform') throw cliErrors.usage({ problem: `--source ${source.slice(0, 40)} is not app or platform`, usage: logs.usage });
    const options = { follow: flags.follow === true || flags.tail === true, signal: io.stop, ...(sinceMs === undefined ? {} : { sinceMs: io.now().getTime() - sinceMs }) };
    // On Kubernetes the lines are the app's pod logs, read through the apiserver.
    const record = await readRuntimeRecord(stateDir);
    const kubernetes = record.runtime === 'kubernetes' ? await loadKubernetesBackend() : undefined;
    const lines = kubernetes ? kubernetes.readPodLogs(kubernetes.loadKubeConfig(record.kubeconfig), 'default', name, options) : readAppLogs(stateDir, name, options);
    for await (const line of lines) {
      if (source !== undefined && (line.stream === 'platform') !== (source === 'platform')) continue;
      io.stdout.write(output === 'table' ? `${line.time} [${line.replica}] ${line.text}\n` : `${JSON.stringify(line)}\n`);
    }
    return undefined;
  },
};
