import { adminGet } from '../admin-client.js';
import type { Command } from '../command.js';
import { cliErrors } from '../errors.js';
import { formatTable, print } from '../output.js';
import type { AppLive, ReplicaRow } from '../replicas-endpoint.js';
import { currentSettings } from '../settings.js';

export const mebibytes = (bytes: number | null) => (bytes === null ? '-' : `${(bytes / 1024 / 1024).toFixed(0)} MiB`);
const duration = (seconds: number) => (seconds < 120 ? `${seconds}s` : seconds < 7200 ? `${Math.floor(seconds / 60)}m` : `${Math.floor(seconds / 3600)}h`);

export const replicaTable = (rows: readonly ReplicaRow[]) =>
  formatTable(
    ['ID', 'RELEASE', 'STATE', 'UPTIME', 'IN-FLIGHT', 'MEMORY', 'CPU'],
    rows.map((row) => [row.id, row.release, row.state, duration(row.uptimeSeconds), String(row.inFlight), mebibytes(row.memoryBytes), row.cpuSeconds === null ? '-' : `${row.cpuSeconds.toFixed(2)}s`]),
  );

export const ps: Command = {
  name: 'ps',
  usage: 'dormant ps APP [--output json|yaml]',
  summary: "List an app's replicas: release, state, uptime, requests in flight, memory, CPU time",
  args: 1,
  async run({ io, args, flags, output, store }) {
    const [name = ''] = args;
    const app = await (await store()).get('App', name);
    const settings = await currentSettings(flags, io);
    if (!settings.running || settings.metricsPort === 0) throw cliErrors.notRunning({ stateDir: settings.stateDir, purpose: `list the replicas of ${name}` });
    const { replicas } = await adminGet<AppLive>(settings, `/apps/${encodeURIComponent(name)}/replicas`, `list the replicas of ${name}`);
    const none = app.spec.stopped === true ? `${name} has no replicas: it is stopped, and serves nothing until dormant start ${name}.\n` : `${name} has no replicas: it is at zero (its next request wakes it).\n`;
    print(io, output, replicas, () => (replicas.length === 0 ? none : replicaTable(replicas)));
    return undefined;
  },
};
