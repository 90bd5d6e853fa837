import type { Server } from 'node:http';
import { mkdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { once } from 'node:events';
import { pino } from 'pino';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { Activator, defaultMaxHeaderCount, RemoteStatsSink, type StatsSink } from '../../activator/index.js';
import { parseDuration } from '../../crds/index.js';
import { ScalingLoop, serveStats } from '../../autoscaler/index.js';
import { defaultLoginLimits, GitServer, type MaxStartups, parseMaxStartups, PushPipeline } from '../../gitd/index.js';
import { createExclusive, LocalRuntime, LocalStore, loadKubernetesBackend, processIdentity, type ResourceStore, type Runtime, writeFileAtomic } from '../../runtime/index.js';
import { type Command, type Flags, flagString } from '../command.js';
import type { Io } from '../io.js';
import { serveTrace, startAdminServer } from '../admin-server.js';
import { adminTokenFile, writeAdminToken } from '../admin-token.js';
import { cliErrors } from '../errors.js';
import { appUrl, gitRemote, port, readUpRecord, resolveSettings, type RuntimeRecord, runtimeRecordFile, type UpRecord, upRecordFile } from '../settings.js';

/** What `up` runs; the banner and README say the same. */
const componentsOf = (runtime: RuntimeName) =>
  [
    { name: 'store', state: 'running', note: runtime === 'kubernetes' ? 'the cluster apiserver (App, Revision, AutoscalePolicy CRDs)' : 'local JSON files' },
    { name: 'activator', state: 'running', note: 'HTTP routing, hold at zero and wake-up' },
    { name: 'autoscaler', state: 'running', note: "Knative's KPA rules: wake on request, scale to zero when idle" },
    { name: 'gitd', state: 'running', note: 'git push over SSH: build, roll out, answer with the URL' },
    { name: 'runtime', state: 'running', note: runtime === 'kubernetes' ? 'one Deployment per revision, pods reached by IP' : 'replicas as local processes' },
  ] as const;

const runtimeNames = ['local', 'kubernetes'] as const;
type RuntimeName = (typeof runtimeNames)[number];

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

/** The largest pack a push may send: --max-pack-mb, DORMANT_MAX_PACK_MB, or 200. */
function maxPackMb(flags: Flags, io: Io): number {
  const text = flagString(flags, 'max-pack-mb') ?? io.env.DORMANT_MAX_PACK_MB;
  if (text === undefined) return 200;
  const mb = Number(text);
  if (!Number.isFinite(mb) || mb <= 0) throw cliErrors.usage({ problem: `--max-pack-mb must be a positive number of MiB, got "${text}"`, usage: up.usage });
  return mb;
}

/** --max-header-count or DORMANT_MAX_HEADER_COUNT: header lines a request may have at the activator (more get 431); 100 by default. */
function maxHeaderCount(flags: Flags, io: Io): number {
  const text = flagString(flags, 'max-header-count') ?? io.env.DORMANT_MAX_HEADER_COUNT;
  if (text === undefined) return defaultMaxHeaderCount;
  const count = Number(text);
  // An app keeps only its first headers (a Node app 1,000): more would be dropped there without a word.
  if (!Number.isInteger(count) || count < 1 || count > 1000) throw cliErrors.usage({ problem: `--max-header-count must be a whole number from 1 to 1000, got "${text}"`, usage: up.usage });
  return count;
}

/** A push limit: the flag, its environment variable, or the default; a positive number (a whole one when `whole`). */
function pushLimit(flags: Flags, io: Io, limit: { flag: string; env: string; fallback: number; unit: string; whole?: boolean }): number {
  const text = flagString(flags, limit.flag) ?? io.env[limit.env];
  if (text === undefined) return limit.fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || (limit.whole === true && !Number.isInteger(value))) {
    throw cliErrors.usage({ problem: `--${limit.flag} must be a positive ${limit.unit}, got "${text}"`, usage: up.usage });
  }
  return value;
}

/** --build-timeout or DORMANT_BUILD_TIMEOUT, a duration; 20 minutes by default. */
function buildTimeoutMs(flags: Flags, io: Io): number {
  const text = flagString(flags, 'build-timeout') ?? io.env.DORMANT_BUILD_TIMEOUT;
  if (text === undefined) return 20 * 60_000;
  const ms = parseDuration(text);
  // Node's timers hold at most 2^31-1 ms (24.8 days); beyond, they fire at once.
  if (ms === undefined || ms <= 0 || ms > 2_147_483_647) throw cliErrors.usage({ problem: `--build-timeout must be a duration from 1s to 24d such as 20m, got "${text}"`, usage: up.usage });
  return ms;
}

/** --drain or DORMANT_DRAIN: how long a stopping activator keeps answering (a duration; 0 by default: stop at once). */
function drainMs(flags: Flags, io: Io): number {
  const text = flagString(flags, 'drain') ?? io.env.DORMANT_DRAIN;
  if (text === undefined || text === '' || text === '0') return 0;
  const ms = parseDuration(text);
  if (ms === undefined || ms < 0 || ms > 10 * 60_000) throw cliErrors.usage({ problem: `--drain must be a duration up to 10m such as 10s, got "${text}"`, usage: up.usage });
  return ms;
}

/** SSH login limits: --ssh-login-grace, --ssh-max-startups, --ssh-max-auth-tries (or their DORMANT_SSH_* variables); sshd's defaults. */
function sshLoginLimits(flags: Flags, io: Io): { loginGraceMs: number; maxStartups: MaxStartups; maxAuthTries: number } {
  const graceText = flagString(flags, 'ssh-login-grace') ?? io.env.DORMANT_SSH_LOGIN_GRACE;
  const loginGraceMs = graceText === undefined ? defaultLoginLimits.graceMs : parseDuration(graceText);
  if (loginGraceMs === undefined || loginGraceMs <= 0 || loginGraceMs > 3_600_000) {
    throw cliErrors.usage({ problem: `--ssh-login-grace must be a duration up to 1h such as 30s, got "${graceText}"`, usage: up.usage });
  }
  const startupsText = flagString(flags, 'ssh-max-startups') ?? io.env.DORMANT_SSH_MAX_STARTUPS;
  const maxStartups = startupsText === undefined ? defaultLoginLimits.maxStartups : parseMaxStartups(startupsText);
  if (typeof maxStartups === 'string') throw cliErrors.usage({ problem: `--ssh-max-startups ${maxStartups}`, usage: up.usage });
  const triesText = flagString(flags, 'ssh-max-auth-tries') ?? io.env.DORMANT_SSH_MAX_AUTH_TRIES;
  const maxAuthTries = triesText === undefined ? defaultLoginLimits.maxAuthTries : Number(triesText);
  if (!Number.isInteger(maxAuthTries) || maxAuthTries < 1 || maxAuthTries > 100) {
    throw cliErrors.usage({ problem: `--ssh-max-auth-tries must be a whole number from 1 to 100, got "${triesText}"`, usage: up.usage });
  }
  return { loginGraceMs, maxStartups, maxAuthTries };
}

const splittable = ['activator', 'autoscaler', 'gitd'] as const;
type Splittable = (typeof splittable)[number];

/** --component or DORMANT_COMPONENTS: which of activator, autoscaler, gitd this process runs (all by default; split only on Kubernetes). */
function componentChoice(flags: Flags, io: Io, runtime: RuntimeName): ReadonlySet<Splittable> {
  const text = flagString(flags, 'component') ?? io.env.DORMANT_COMPONENTS;
  if (text === undefined || text === '' || text === 'all') return new Set(splittable);
  const names = text.split(',').map((n) => n.trim());
  const unknown = names.filter((n) => !(splittable as readonly string[]).includes(n));
  if (unknown.length > 0) throw cliErrors.usage({ problem: `--component takes ${splittable.join(', ')} (comma-separated) or all, not ${unknown.join(', ')}`, usage: up.usage });
  if (runtime !== 'kubernetes') throw cliErrors.usage({ problem: 'components run apart only on Kubernetes (--runtime kubernetes); the local runtime runs them all in one process', usage: up.usage });
  return new Set(names as Splittable[]);
}

/** --runtime or DORMANT_RUNTIME: local (default) or kubernetes. */
function runtimeChoice(flags: Flags, io: Io): RuntimeName {
  const text = flagString(flags, 'runtime') ?? io.env.DORMANT_RUNTIME ?? 'local';
  if ((runtimeNames as readonly string[]).includes(text)) return text as RuntimeName;
  throw cliErrors.usage({ problem: `--runtime takes local or kubernetes, got "${text}"`, usage: up.usage });
}

/** --registry or DORMANT_REGISTRY: host[:port] of a registry spoken to over plain HTTP. */
function registryAddress(flags: Flags, io: Io): string | undefined {
  const text = flagString(flags, 'registry') ?? io.env.DORMANT_REGISTRY;
  if (text === undefined || text === '') return undefined;
  if (!/^[a-z0-9.-]+(:\d{1,5})?$/i.test(text)) {
    throw cliErrors.usage({ problem: `--registry takes host[:port] without a scheme, such as 127.0.0.1:5000, got "${text}"`, usage: up.usage });
  }
  return text;
}

export const up: Command = {
  name: 'up',
  usage:
    'dormant up [--runtime local|kubernetes] [--kubeconfig FILE] [--component activator,autoscaler,gitd] [--listen-host 127.0.0.1] [--autoscaler-port 9091] [--advertise-host HOST] [--lease-namespace default] [--state-dir DIR] [--domain localhost] [--http-port 8080] [--ssh-port 2222] [--metrics-port 9090] [--max-pack-mb 200] [--max-header-count 100] [--max-object-mb 100] [--max-push-mb 2048] [--max-refs-per-push 1000] [--registry 127.0.0.1:5000] [--build-timeout 20m] [--drain 0s] [--public-port PORT] [--ssh-login-grace 30s] [--ssh-max-startups 10:30:100] [--ssh-max-auth-tries 6]',
  summary: 'Start Dormant on this machine (local runtime, or against a Kubernetes cluster) until Ctrl-C',
  args: 0,
  longRunning: () => true,
  options: {
    domain: { type: 'string' },
    'http-port': { type: 'string' },
    'ssh-port': { type: 'string' },
    'metrics-port': { type: 'string' },
    'max-pack-mb': { type: 'string' },
    'max-header-count': { type: 'string' },
    'max-object-mb': { type: 'string' },
    'max-push-mb': { type: 'string' },
    'max-refs-per-push': { type: 'string' },
    registry: { type: 'string' },
    'build-timeout': { type: 'string' },
    runtime: { type: 'string' },
    kubeconfig: { type: 'string' },
    component: { type: 'string' },
    'listen-host': { type: 'string' },
    'autoscaler-port': { type: 'string' },
    'advertise-host': { type: 'string' },
    'lease-namespace': { type: 'string' },
    drain: { type: 'string' },
    'public-port': { type: 'string' },
    'ssh-login-grace': { type: 'string' },
    'ssh-max-startups': { type: 'string' },
    'ssh-max-auth-tries': { type: 'string' },
  },
  async run({ io, flags }) {
    const settings = resolveSettings(flags, io);
    // Every flag is checked before anything starts.
    const buildTimeout = buildTimeoutMs(flags, io);
    const headerCount = maxHeaderCount(flags, io);
    const drainDeadline = drainMs(flags, io);
    const sshLimits = sshLoginLimits(flags, io);
    const imageRegistry = registryAddress(flags, io);
    const runtimeName = runtimeChoice(flags, io);
    // A file given with --kubeconfig; otherwise client-node's default ($KUBECONFIG, which may list several files, or ~/.kube/config).
    const kubeconfigFlag = flagString(flags, 'kubeconfig');
    const kubeconfig = kubeconfigFlag === undefined ? undefined : resolve(io.cwd, kubeconfigFlag);
    if (runtimeName === 'kubernetes' && imageRegistry === undefined) {
      throw cliErrors.usage({ problem: 'the Kubernetes runtime runs images: give it a registry the cluster pulls from, such as --registry 127.0.0.1:5000', usage: up.usage });
    }
    const selected = componentChoice(flags, io, runtimeName);
    const split = selected.size < splittable.length;
    const wants = (component: Splittable) => selected.has(component);
    const listenHost = flagString(flags, 'listen-host') ?? io.env.DORMANT_LISTEN_HOST ?? '127.0.0.1';
    const autoscalerPort = port(flagString(flags, 'autoscaler-port') ?? io.env.DORMANT_AUTOSCALER_PORT, 9091, '--autoscaler-port');
    const advertiseHost = flagString(flags, 'advertise-host') ?? io.env.POD_IP ?? (listenHost === '0.0.0.0' ? hostname() : listenHost);
    const leaseNamespace = flagString(flags, 'lease-namespace') ?? io.env.DORMANT_LEASE_NAMESPACE ?? io.env.POD_NAMESPACE ?? 'default';
    // Where users reach the activator, for the URLs Dormant prints and records: a NodePort or load balancer in front of it may differ from --http-port.
    const publicAddress = { domain: settings.domain, httpPort: port(flagString(flags, 'public-port') ?? io.env.DORMANT_PUBLIC_PORT, settings.httpPort, '--public-port') };
    const identity = io.env.POD_NAME ?? `${hostname()}-${process.pid}`;
    const components = componentsOf(runtimeName).filter((c) => !(splittable as readonly string[]).includes(c.name) || selected.has(c.name as Splittable));
    const kubernetes = runtimeName === 'kubernetes' ? await loadKubernetesBackend() : undefined;
    const maxPackBytes = maxPackMb(flags, io) * 1024 * 1024;
    const pushLimits = {
      maxObjectBytes: pushLimit(flags, io, { flag: 'max-object-mb', env: 'DORMANT_MAX_OBJECT_MB', fallback: 100, unit: 'number of MiB' }) * 1024 * 1024,
      maxPushBytes: pushLimit(flags, io, { flag: 'max-push-mb', env: 'DORMANT_MAX_PUSH_MB', fallback: 2048, unit: 'number of MiB' }) * 1024 * 1024,
      maxRefsPerPush: pushLimit(flags, io, { flag: 'max-refs-per-push', env: 'DORMANT_MAX_REFS_PER_PUSH', fallback: 1000, unit: 'whole number', whole: true }),
    };
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
          maxHeaderCount: headerCount,
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
          buildTimeoutMs: buildTimeout,
        });
        const gitd = new GitServer({ stateDir: settings.stateDir, store, pipeline, log: root, registry, port: settings.sshPort, maxPackBytes: maxPackBytes, ...pushLimits, ...sshLimits });
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
    if (activator && drainDeadline > 0) await activator.drain(drainDeadline);
    await stopAll();
    log.info('dormant up stopped; state kept');
    io.stdout.write('Stopped. State is kept; dormant up resumes it.\n');
    return undefined;
  },
};
