import type { Server } from 'node:http';
import { mkdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { once } from 'node:events';
import { pino } from 'pino';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { Activator, RemoteStatsSink, type StatsSink } from '../../activator/index.js';
import { ScalingLoop, serveStats } from '../../autoscaler/index.js';
import { GitServer, PushPipeline } from '../../gitd/index.js';
import { createExclusive, LocalRuntime, LocalStore, loadKubernetesBackend, processIdentity, type ResourceStore, type Runtime, writeFileAtomic } from '../../runtime/index.js';
import type { Command } from '../command.js';
import { serveTrace, startAdminServer } from '../admin-server.js';
import { adminTokenFile, writeAdminToken } from '../admin-token.js';
import { cliErrors } from '../errors.js';
import { type RuntimeName, readUpFlags, type Splittable, splittable, upOptions, upUsage } from './up-flags.js';
import { appUrl, gitRemote, readUpRecord, resolveSettings, type RuntimeRecord, runtimeRecordFile, type UpRecord, upRecordFile } from '../settings.js';

/** What `up` runs; the banner and README say the same. */
const componentsOf = (runtime: RuntimeName) =>
  [
    { name: 'store', state: 'running', note: runtime === 'kubernetes' ? 'the cluster apiserver (App, Revision, AutoscalePolicy CRDs)' : 'local JSON files' },
    { name: 'activator', state: 'running', note: 'HTTP routing, hold at zero and wake-up' },
    { name: 'autoscaler', state: 'running', note: "Knative's KPA rules: wake on request, scale to zero when idle" },
    { name: 'gitd', state: 'running', note: 'git push over SSH: build, roll out, answer with the URL' },
    { name: 'runtime', state: 'running', note: runtime === 'kubernetes' ? 'one Deployment per revision, pods reached by IP' : 'replicas as local processes' },
  ] as const;

/**
 * Makes this process the one `dormant up` of the state folder: up.json is created only if
 * absent, so two started together cannot both run. A record left by a dead one is replaced.
 */
async function claimUpRecord(stateDir: string): Promise<void> {
  const claim = JSON.stringify({ pid: process.pid, identity: processIdentity() });
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await createExclusive(upRecordFile(stateDir), claim)) return;
    const running = await readUpRecord(stateDir);
    if (running) throw cliErrors.alreadyRunning({ pid: running.pid, stateDir });
    await rm(upRecordFile(stateDir), { force: true });
  }
  throw cliErrors.alreadyRunning({ pid: 0, stateDir });
}

export const up: Command = {
  name: 'up',
  usage: upUsage,
  summary: 'Start Dormant on this machine (local runtime, or against a Kubernetes cluster) until Ctrl-C',
  args: 0,
  longRunning: () => true,
  options: upOptions,
  async run({ io, flags }) {
    const settings = resolveSettings(flags, io);
    // Every flag is checked before anything starts.
    const upFlags = readUpFlags(flags, io, settings.httpPort);
    const { runtime: runtimeName, kubeconfig, imageRegistry, listenHost, autoscalerPort, advertiseHost, leaseNamespace } = upFlags;
    const selected = upFlags.components;
    const split = selected.size < splittable.length;
    const wants = (component: Splittable) => selected.has(component);
    const publicAddress = { domain: settings.domain, httpPort: upFlags.publicPort };
    const identity = io.env.POD_NAME ?? `${hostname()}-${process.pid}`;
    const components = componentsOf(runtimeName).filter((c) => !(splittable as readonly string[]).includes(c.name) || selected.has(c.name as Splittable));
    const kubernetes = runtimeName === 'kubernetes' ? await loadKubernetesBackend() : undefined;
    await mkdir(settings.stateDir, { recursive: true });
    await claimUpRecord(settings.stateDir);
    // A new admin token on each start: one read by anyone earlier is worth nothing now.
    const adminToken = await writeAdminToken(settings.stateDir);

    // Each component binds its own name (component: activator, runtime...); up's own lines say up.
    const root = pino({ name: 'dormant' }, pino.destination({ fd: 2, sync: true }));
    const log = root.child({ component: 'up' });
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'dormant_' });
    const info = new Gauge({ name: 'dormant_component_up', help: 'Components of dormant up: 1 running', labelNames: ['component'], registers: [registry] });
    for (const c of components) info.set({ component: c.name }, 1);
    // Started in this order and stopped in reverse; a failure stops what already runs.
    const stops: (() => Promise<unknown>)[] = [() => rm(upRecordFile(settings.stateDir), { force: true })];
    const stopAll = async () => {
      for (const stop of stops.reverse()) await stop().catch((error: unknown) => log.error({ err: error }, 'stopping failed'));
    };
    let store: ResourceStore;
    let ready = false;
    let metrics: Server | undefined;
    let activator: Activator | undefined;
    let sshPort = settings.sshPort;
    try {
      // The store knows the domain: it refuses a host another app has as <name>.<domain>.
      store = kubernetes
        ? await kubernetes.KubeStore.open({ domain: settings.domain, ...(kubeconfig === undefined ? {} : { kubeconfig }) })
        : await LocalStore.open({ stateDir: settings.stateDir, domain: settings.domain });
      const openStore = store;
      stops.push(() => openStore.close());
      metrics =
        settings.metricsPort === 0
          ? undefined
          : await startAdminServer({
              registry,
              host: listenHost,
              port: settings.metricsPort,
              ready: () => ready,
              token: adminToken,
              tokenFile: adminTokenFile(settings.stateDir),
              trace: (app, request, response) => serveTrace(activator, openStore, app, request, response),
              log,
            });
      const server = metrics;
      if (server) {
        stops.push(
          () =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        );
      }
      // Apart, only the acting autoscaler writes App status; together, this one process does.
      let writesStatus = () => !split;
      const kubeRuntime = kubernetes ? new kubernetes.KubeRuntime({ config: kubernetes.loadKubeConfig(kubeconfig), store, log: root, registry, writesStatus: () => writesStatus() }) : undefined;
      const runtime: Runtime & { start(): Promise<void>; close(): Promise<void>; deployed(app: string): boolean } =
        kubeRuntime ?? new LocalRuntime({ stateDir: settings.stateDir, store, log: root, registry });
      stops.push(() => runtime.close());
      await runtime.start();
      let autoscaler: ScalingLoop | undefined;
      if (wants('autoscaler')) {
        // Split across processes (Kubernetes): one autoscaler acts, holding a Lease; the others stand by with the same history.
        const elector =
          kubernetes && split
            ? new kubernetes.LeaseElector({
                config: kubernetes.loadKubeConfig(kubeconfig),
                namespace: leaseNamespace,
                name: 'dormant-autoscaler',
                identity,
                log: root.child({ component: 'autoscaler' }),
                onChange: (leading) => {
                  if (!leading) return;
                  // The scale read first, so the status written names it.
                  void loop.adopt().then(() => kubeRuntime?.rewriteStatuses());
                },
              })
            : undefined;
        if (elector) writesStatus = () => elector.leading;
        const loop = new ScalingLoop({ store, runtime, log: root, registry, ...(elector ? { acting: () => elector.leading } : {}) });
        autoscaler = loop;
        stops.push(async () => loop.close());
        await loop.start();
        if (kubernetes && elector) {
          const statsServer = await serveStats({ receiver: loop, host: listenHost, port: autoscalerPort, log: root.child({ component: 'autoscaler' }) }).catch((error: NodeJS.ErrnoException) => {
            throw error.code === 'EADDRINUSE' ? cliErrors.portInUse({ port: autoscalerPort, flag: '--autoscaler-port', purpose: "the activators' load reports" }, { cause: error }) : error;
          });
          stops.push(() => new Promise<void>((resolve) => statsServer.close(() => resolve())));
          const actualPort = (statsServer.address() as { port: number }).port;
          const member = new kubernetes.LeaseElector({
            config: kubernetes.loadKubeConfig(kubeconfig),
            namespace: leaseNamespace,
            name: kubernetes.memberLeaseName(identity),
            identity,
            log: root.child({ component: 'autoscaler' }),
            labels: { [kubernetes.memberLabel]: 'true' },
            deleteOnStop: true,
            annotations: { [kubernetes.addressAnnotation]: `${advertiseHost}:${actualPort}` },
          });
          stops.push(() => member.stop());
          await member.start();
          stops.push(() => elector.stop());
          await elector.start();
        }
      }
      let stats: StatsSink | undefined = autoscaler;
      if (wants('activator') && stats === undefined && kubernetes) {
        const directory = new kubernetes.MemberDirectory({ config: kubernetes.loadKubeConfig(kubeconfig), namespace: leaseNamespace, log: root.child({ component: 'activator' }) });
        stops.push(async () => directory.stop());
        await directory.start();
        stats = new RemoteStatsSink({ targets: () => directory.addresses(), log: root.child({ component: 'activator' }) });
      }
      if (wants('activator') && stats !== undefined) {
        activator = new Activator({
          store,
          endpoints: runtime,
          stats,
          log: root,
          registry,
          domain: settings.domain,
          port: settings.httpPort,
          ...(publicAddress.httpPort === settings.httpPort ? {} : { publicPort: publicAddress.httpPort }),
          host: listenHost,
          ...upFlags.requestHead,
        });
      }
      if (wants('gitd')) {
        const pipeline = new PushPipeline({
          store,
          runtime,
          stateDir: settings.stateDir,
          appUrl: (app) => appUrl(publicAddress, app),
          log: root.child({ component: 'gitd' }),
          ...(imageRegistry ? { registry: imageRegistry } : {}),
          buildTimeoutMs: upFlags.buildTimeoutMs,
          hookTimeoutMs: upFlags.hookTimeoutMs,
        });
        const gitd = new GitServer({ stateDir: settings.stateDir, store, pipeline, log: root, registry, port: settings.sshPort, ...upFlags.push, ...upFlags.sshLogin });
        stops.push(() => gitd.close());
        sshPort = await gitd.start().catch((error: NodeJS.ErrnoException) => {
          throw error.code === 'EADDRINUSE' ? cliErrors.portInUse({ port: settings.sshPort, flag: '--ssh-port', purpose: 'git push over SSH' }, { cause: error }) : error;
        });
      }
      const started = activator;
      if (started) {
        stops.push(() => started.close());
        await started.start().catch((error: NodeJS.ErrnoException) => {
          throw error.code === 'EADDRINUSE' ? cliErrors.portInUse({ port: settings.httpPort, flag: '--http-port', purpose: 'HTTP for apps' }, { cause: error }) : error;
        });
      }
    } catch (error) {
      await stopAll();
      throw error;
    }
    const metricsPort = (metrics?.address() as { port: number } | null)?.port ?? 0;
    ready = true;

    const record: UpRecord = {
      pid: process.pid,
      identity: processIdentity(),
      startedAt: io.now().toISOString(),
      domain: settings.domain,
      httpPort: settings.httpPort,
      sshPort,
      metricsPort,
    };
    const runtimeRecord: RuntimeRecord = { runtime: runtimeName, domain: settings.domain, ...(runtimeName === 'kubernetes' && kubeconfig !== undefined ? { kubeconfig } : {}) };
    await writeFileAtomic(runtimeRecordFile(settings.stateDir), `${JSON.stringify(runtimeRecord, null, 2)}\n`);
    await writeFileAtomic(upRecordFile(settings.stateDir), `${JSON.stringify(record, null, 2)}\n`);

    const apps = await store.list('App');
    io.stdout.write(
      [
        kubernetes
          ? `Dormant is up on Kubernetes (${kubernetes.loadKubeConfig(kubeconfig).getCurrentCluster()?.server ?? 'the cluster'}); repositories in ${settings.stateDir} (${apps.length} app${apps.length === 1 ? '' : 's'})`
          : `Dormant is up on the local runtime; state in ${settings.stateDir} (${apps.length} app${apps.length === 1 ? '' : 's'})`,
        ...(wants('gitd') ? [`  deploy:   git remote add dormant ${gitRemote({ sshPort }, '<app>')} && git push dormant main`] : []),
        `  apps at:  ${appUrl(publicAddress, '<app>')}`,
        `  metrics:  ${metrics ? `http://${listenHost === '0.0.0.0' ? '127.0.0.1' : listenHost}:${metricsPort}/metrics` : 'off'}`,
        '  components:',
        ...components.map((c) => `    ${c.name.padEnd(11)}${c.state.padEnd(15)}${c.note}`),
        'Press Ctrl-C to stop.',
        '',
      ].join('\n'),
    );
    log.info({ stateDir: settings.stateDir, metricsPort, apps: apps.length }, 'dormant up started');

    if (!io.stop.aborted) await once(io.stop, 'abort');
    log.info('stopping');
    ready = false;
    if (activator && upFlags.drainMs > 0) await activator.drain(upFlags.drainMs);
    await stopAll();
    log.info('dormant up stopped; state kept');
    io.stdout.write('Stopped. State is kept; dormant up resumes it.\n');
    return undefined;
  },
};
