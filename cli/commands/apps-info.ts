import { defaultNamespace, resolvePolicy } from '../../crds/index.js';
import { releaseNumber } from '../../gitd/index.js';
import { adminGet } from '../admin-client.js';
import type { Command } from '../command.js';
import { formatAge, print } from '../output.js';
import type { AppLive } from '../replicas-endpoint.js';
import { appUrl, currentSettings } from '../settings.js';
import { namespacePolicies } from './policy.js';
import { replicaTable } from './ps.js';

export const appsInfo: Command = {
  name: 'apps info',
  usage: 'dormant apps info APP [--output json|yaml]',
  summary: 'Show one app: URL and hosts, its release and build, policy, replicas, last request, cold starts',
  args: 1,
  async run({ io, args, flags, output, store }) {
    const [name = ''] = args;
    const resources = await store();
    const app = await resources.get('App', name);
    const settings = await currentSettings(flags, io);
    const servingName = app.status?.readyRevision;
    const serving = servingName === undefined ? undefined : await resources.find('Revision', servingName, app.metadata.namespace ?? defaultNamespace);
    const effective = resolvePolicy(app, await namespacePolicies(resources, app));
    // Replicas and cold starts are what the running dormant up sees; without one, none are running.
    const live = settings.running && settings.metricsPort !== 0 ? await adminGet<AppLive>(settings, `/apps/${encodeURIComponent(name)}/replicas`, `show ${name}`).catch(() => undefined) : undefined;
    const build = serving
      ? {
          strategy: serving.spec.strategy,
          stack: serving.spec.stack ?? null,
          runtime: serving.spec.runtime ?? {},
          image: serving.spec.image ?? null,
          command: serving.spec.run.command ?? null,
        }
      : null;
    const info = {
      name,
      url: app.status?.url ?? appUrl(settings, name),
      hosts: app.spec.routes.hosts,
      stopped: app.spec.stopped === true,
      release: serving
        ? { version: `v${releaseNumber(serving.metadata.name)}`, revision: serving.metadata.name, commit: serving.spec.commit, change: serving.spec.change?.description ?? `Deploy ${serving.spec.commit.slice(0, 7)}`, by: serving.spec.change?.by ?? null, at: serving.metadata.creationTimestamp ?? null }
        : null,
      build,
      policy: { ...(effective.policy === undefined ? {} : { name: effective.policy }), ...effective.spec },
      readyReplicas: app.status?.readyReplicas ?? 0,
      desiredReplicas: app.status?.desiredReplicas ?? 0,
      replicas: live?.replicas ?? null,
      lastRequestTime: app.status?.lastRequestTime ?? null,
      coldStartsLastHour: live?.coldStarts ?? null,
    };
    const now = io.now();
    const ms = (value: number | null) => (value === null ? '-' : `${Math.round(value)} ms`);
    print(io, output, info, () => {
      const lines = [
        `=== ${name}${info.stopped ? ' (stopped: dormant start to serve again)' : ''}`,
        `URL:           ${info.url}`,
        `Hosts:         ${info.hosts.length === 0 ? '-' : info.hosts.join(', ')}`,
        `Release:       ${info.release ? `${info.release.version} (${info.release.revision}) ${info.release.change}${info.release.by ? ` by ${info.release.by}` : ''}, ${formatAge(info.release.at ?? undefined, now)} ago` : 'none (git push to deploy)'}`,
        `Build:         ${build ? [build.strategy, build.stack, ...Object.entries(build.runtime).map(([k, v]) => `${k} ${v}`), build.image].filter((part) => part !== null).join(', ') : '-'}`,
        `Start:         ${build?.command ? build.command.join(' ') : '-'}`,
        `Policy:        ${info.policy.name ? `${info.policy.name}: ` : ''}target ${info.policy.target} ${info.policy.metric}, minScale ${info.policy.minScale}, maxScale ${info.policy.maxScale ?? 'unlimited'}, scale to zero after ${info.policy.scaleToZeroGracePeriod}`,
        `Replicas:      ${info.readyReplicas} ready of ${info.desiredReplicas} desired`,
        `Last request:  ${info.lastRequestTime ? `${formatAge(info.lastRequestTime, now)} ago` : 'never'}`,
        `Cold starts:   ${info.coldStartsLastHour ? `${info.coldStartsLastHour.count} requests waited for a wake-up in the last hour (p50 ${ms(info.coldStartsLastHour.p50Ms)}, p99 ${ms(info.coldStartsLastHour.p99Ms)})` : '- (no dormant up running)'}`,
      ];
      const replicas = info.replicas && info.replicas.length > 0 ? `\n${replicaTable(info.replicas)}` : '';
      return `${lines.join('\n')}\n${replicas}`;
    });
    return undefined;
  },
};
