import { mkdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { once } from 'node:events';
import { pino } from 'pino';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { loadKubernetesBackend } from '../../runtime/index.js';
import { createExclusive, processIdentity, writeFileAtomic } from '../../state-folder/index.js';
import { composeUp, type RunningUp } from '../compose-up.js';
import type { Command } from '../command.js';
import { writeAdminToken } from '../admin-token.js';
import { cliErrors } from '../errors.js';
import { type RuntimeName, readUpFlags, type Splittable, splittable, upOptions, upUsage } from './up-flags.js';
import { appUrl, gitRemote, httpsUrl, readUpRecord, resolveSettings, type RuntimeRecord, runtimeRecordFile, type UpRecord, upRecordFile } from '../settings.js';

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
    const { runtime: runtimeName, kubeconfig, listenHost } = upFlags;
    const selected = upFlags.components;
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
    let ready = false;
    let running: RunningUp;
    try {
      running = await composeUp({ settings, upFlags, publicAddress, kubernetes, root, registry, adminToken, identity, ready: () => ready });
    } catch (error) {
      await rm(upRecordFile(settings.stateDir), { force: true });
      throw error;
    }
    const { store, metrics, sshPort, activator, httpsPort } = running;
    const metricsPort = (metrics?.address() as { port: number } | null)?.port ?? 0;
    ready = true;

    const record: UpRecord = {
      pid: process.pid,
      identity: processIdentity(),
      startedAt: io.now().toISOString(),
      domain: settings.domain,
      httpPort: settings.httpPort,
      ...(httpsPort === undefined ? {} : { httpsPort, publicHttpsPort: upFlags.https?.publicPort === 0 ? httpsPort : (upFlags.https?.publicPort ?? httpsPort) }),
      ...(upFlags.certManagerIssuer === undefined ? {} : { certManagerIssuer: `${upFlags.certManagerIssuer.kind}/${upFlags.certManagerIssuer.name}` }),
      sshPort,
      metricsPort,
    };
    const unsandboxed = runtimeName === 'local' && upFlags.insecureNoSandbox;
    const runtimeRecord: RuntimeRecord = {
      runtime: runtimeName,
      domain: settings.domain,
      ...(runtimeName === 'kubernetes' && kubeconfig !== undefined ? { kubeconfig } : {}),
      ...(runtimeName === 'kubernetes' ? { namespace: upFlags.leaseNamespace } : {}),
      ...(unsandboxed ? { unsandboxed: true as const } : {}),
      ...(runtimeName === 'local' && running.imagesInSandbox ? { imagesInSandbox: true as const } : {}),
    };
    await writeFileAtomic(runtimeRecordFile(settings.stateDir), `${JSON.stringify(runtimeRecord, null, 2)}\n`);
    await writeFileAtomic(upRecordFile(settings.stateDir), `${JSON.stringify(record, null, 2)}\n`);

    const apps = await store.list('App');
    io.stdout.write(
      [
        kubernetes
          ? `Dormant is up on Kubernetes (${kubernetes.loadKubeConfig(kubeconfig).getCurrentCluster()?.server ?? 'the cluster'}); repositories in ${settings.stateDir} (${apps.length} app${apps.length === 1 ? '' : 's'})`
          : `Dormant is up on the local runtime; state in ${settings.stateDir} (${apps.length} app${apps.length === 1 ? '' : 's'})${unsandboxed ? "\nWARNING: --insecure-no-sandbox: replicas run unsandboxed, with Dormant's rights; any app's code can read its keys and every other app" : ''}`,
        ...(wants('gitd') ? [`  deploy:   git remote add dormant ${gitRemote({ sshPort }, '<app>')} && git push dormant main`] : []),
        `  apps at:  ${appUrl(publicAddress, '<app>')}`,
        ...(httpsPort === undefined ? [] : [`  https at: ${httpsUrl({ domain: settings.domain, httpsPort: upFlags.https?.publicPort === 0 ? httpsPort : (upFlags.https?.publicPort ?? httpsPort) }, '<app>')} (for hosts with a certificate: dormant certs)`]),
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
    await running.stopAll();
    await rm(upRecordFile(settings.stateDir), { force: true });
    log.info('dormant up stopped; state kept');
    io.stdout.write('Stopped. State is kept; dormant up resumes it.\n');
    return undefined;
  },
};
