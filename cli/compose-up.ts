import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Activator, type ChallengeAnswers, RemoteStatsSink, type StatsSink } from '../activator/index.js';
import { ScalingLoop, serveStats } from '../autoscaler/index.js';
import { GitServer, PushPipeline } from '../gitd/index.js';
import { LocalRuntime, LocalStore, type loadKubernetesBackend, type ReplicaReport, type ResourceStore, type Runtime } from '../runtime/index.js';
import { serveTrace, startAdminServer } from './admin-server.js';
import { serveRelease } from './release-endpoint.js';
import { serveReplicas } from './replicas-endpoint.js';
import { RunSessions, serveRun } from './run-endpoint.js';
import { adminTokenFile } from './admin-token.js';
import { type Splittable, splittable, type UpFlags } from './commands/up-flags.js';
import { cliErrors } from './errors.js';
import { openHostSandbox } from '../sandbox/index.js';
import { defaultGoFolder, defaultRuntimesFolder, defaultToolsFolder, GoToolchains, ImageTrees, NodeRuntimes, UvTool } from '../builder/index.js';
import { appUrl, type Settings } from './settings.js';
import { AcmeIssuer, CertificateBook, CertificateFiles } from '../tls/index.js';
import { defaultNamespace } from '../crds/index.js';

export interface UpParts {
  readonly settings: Settings;
  readonly upFlags: UpFlags;
  /** Where users reach apps (the public port may differ from the one listened on). */
  readonly publicAddress: Pick<Settings, 'domain' | 'httpPort'>;
  /** The Kubernetes backend, loaded when --runtime kube. */
  readonly kubernetes: Awaited<ReturnType<typeof loadKubernetesBackend>> | undefined;
  readonly root: Logger;
  readonly registry: Registry;
  readonly adminToken: string;
  /** This process's name among the replicas of a component (the Lease holder identity). */
  readonly identity: string;
  /** Whether /readyz says ready. */
  readonly ready: () => boolean;
}

export interface RunningUp {
  readonly store: ResourceStore;
  readonly metrics: Server | undefined;
  readonly sshPort: number;
  readonly activator: Activator | undefined;
  /** The HTTPS listener's port, when it runs. */
  readonly httpsPort: number | undefined;
  /** Dockerfile apps' images run in the sandbox (bubblewrap works here), not as podman containers. */
  readonly imagesInSandbox: boolean;
  /** Stops everything in the reverse order of its start. */
  stopAll(): Promise<void>;
}

/**
 * The composition root of `dormant up`: builds and starts the components the flags select,
 * wired to one store and one runtime, in dependency order. A failure stops what already runs.
 */
export async function composeUp(parts: UpParts): Promise<RunningUp> {
  const { settings, upFlags, publicAddress, kubernetes, root, registry, adminToken, identity } = parts;
  const { kubeconfig, imageRegistry, listenHost, autoscalerPort, advertiseHost, leaseNamespace } = upFlags;
  const log = root.child({ component: 'up' });
  const selected = upFlags.components;
  const split = selected.size < splittable.length;
  const wants = (component: Splittable) => selected.has(component);
  // Loaded once: every Kubernetes client of this process shares it.
  const kube = kubernetes && { ...kubernetes, config: kubernetes.loadKubeConfig(kubeconfig) };
  // Started in this order and stopped in reverse; a failure stops what already runs.
  const stops: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => log.error({ err: error }, 'stopping failed'));
  };
  let store: ResourceStore;
  let metrics: Server | undefined;
  let activator: Activator | undefined;
  let sshPort = settings.sshPort;
  let imagesInSandbox = false;
  // Made after the metrics port opens; it releases apps (config changes, rollbacks) for it.
  let gitd: GitServer | undefined;
  // dormant run's processes: stopped, with their connections, before the rest stops (an upgraded connection would hold the metrics port's close).
  const runSessions = new RunSessions();
  // The local runtime, which lists its replicas for dormant ps (the Kubernetes one has pods for that).
  let localRuntime: LocalRuntime | undefined;
  // On Kubernetes, the runtime's view of the app's pods.
  let kubeReplicas: { describe(app: string): { replicas: readonly ReplicaReport[] } } | undefined;
  let httpsPort: number | undefined;
  try {
    // The store knows the domain: it refuses a host another app has as <name>.<domain>.
    store = kube
      ? await kube.KubeStore.open({ domain: settings.domain, ...(kubeconfig === undefined ? {} : { kubeconfig }) })
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
            ready: parts.ready,
            token: adminToken,
            tokenFile: adminTokenFile(settings.stateDir),
            trace: (app, request, response) => serveTrace(activator, openStore, app, request, response),
            release: (app, request, response) => serveRelease(gitd, openStore, app, request, response),
            replicas: (app, _request, response) => serveReplicas(localRuntime ?? kubeReplicas ?? {}, activator, openStore, app, response),
            run: (app, request, socket, head) => serveRun(gitd, runSessions, app, request, socket, head),
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
    // Tenants' replicas run sandboxed, or not at all, unless the user said otherwise (on Kubernetes the pod is the sandbox).
    const sandbox = kube || upFlags.insecureNoSandbox ? undefined : openHostSandbox(settings.stateDir);
    if (!kube && upFlags.insecureNoSandbox) log.warn('--insecure-no-sandbox: tenants\' code runs with Dormant\'s rights; it can read its keys and every app');
    imagesInSandbox = sandbox?.bwrap !== undefined;
    // One for the runtime and gitd: each image is unpacked once, and neither removes a tree the other uses.
    const imageTrees = new ImageTrees(settings.stateDir);
    // Node releases apps ask for, fetched once per machine (public releases, checked against the registry's integrity).
    const nodeRuntimes = new NodeRuntimes(defaultRuntimesFolder());
    if (sandbox && !sandbox.bwrap) log.warn(`Dockerfile apps run as podman containers, not in the sandbox: ${sandbox.imagesProblem}`);
    if (sandbox?.limitsProblem) log.warn(`replicas, builds and hooks run without memory, CPU and process limits: ${sandbox.limitsProblem}`);
    // After the runtime has stopped its replicas (stops run in reverse).
    if (sandbox) stops.push(async () => sandbox.cgroups?.close());
    // Apart, only the acting autoscaler writes App status; together, this one process does.
    let writesStatus = () => !split;
    const kubeRuntime = kube ? new kube.KubeRuntime({ config: kube.config, store, log: root, registry, writesStatus: () => writesStatus(), scalesAlone: !split }) : undefined;
    const runtime: Runtime & { start(): Promise<void>; close(): Promise<void>; deployed(app: string): boolean } =
      kubeRuntime ?? new LocalRuntime({ stateDir: settings.stateDir, store, log: root, registry, warmSandboxes: upFlags.warmSandboxes, imageTrees, nodeRuntimes, ...(sandbox ? { sandbox } : {}) });
    if (runtime instanceof LocalRuntime) localRuntime = runtime;
    kubeReplicas = kubeRuntime;
    stops.push(() => runtime.close());
    await runtime.start();
    let autoscaler: ScalingLoop | undefined;
    if (wants('autoscaler')) {
      // Split across processes (Kubernetes): one autoscaler acts, holding a Lease; the others stand by with the same history.
      const elector =
        kube && split
          ? new kube.LeaseElector({
              config: kube.config,
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
      if (kube && elector) {
        const statsServer = await serveStats({ receiver: loop, host: listenHost, port: autoscalerPort, log: root.child({ component: 'autoscaler' }) }).catch((error: NodeJS.ErrnoException) => {
          throw error.code === 'EADDRINUSE' ? cliErrors.portInUse({ port: autoscalerPort, flag: '--autoscaler-port', purpose: "the activators' load reports" }, { cause: error }) : error;
        });
        stops.push(() => new Promise<void>((resolve) => statsServer.close(() => resolve())));
        const actualPort = (statsServer.address() as { port: number }).port;
        const member = new kube.LeaseElector({
          config: kube.config,
          namespace: leaseNamespace,
          name: kube.memberLeaseName(identity),
          identity,
          log: root.child({ component: 'autoscaler' }),
          labels: { [kube.memberLabel]: 'true' },
          deleteOnStop: true,
          annotations: { [kube.addressAnnotation]: `${advertiseHost}:${actualPort}` },
        });
        stops.push(() => member.stop());
        await member.start();
        stops.push(() => elector.stop());
        await elector.start();
      }
    }
    let stats: StatsSink | undefined = autoscaler;
    if (wants('activator') && stats === undefined && kube) {
      const directory = new kube.MemberDirectory({ config: kube.config, namespace: leaseNamespace, log: root.child({ component: 'activator' }) });
      stops.push(async () => directory.stop());
      await directory.start();
      stats = new RemoteStatsSink({ targets: () => directory.addresses(), log: root.child({ component: 'activator' }) });
    }
    // The apps' certificates (files of the state folder; TLS Secrets on Kubernetes): read by the HTTPS listener, written by dormant certs and ACME.
    // ACME runs where the activator that answers its challenges does, in one process (the local runtime, or Dormant on the host against a cluster).
    let certificates: { book: CertificateBook; issuer: AcmeIssuer | undefined; challenges: ChallengeAnswers | undefined } | undefined;
    if (wants('activator')) {
      const files = kube ? new kube.CertificateSecrets({ config: kube.config, namespace: leaseNamespace }) : new CertificateFiles(settings.stateDir);
      const book = new CertificateBook({ files, log: root });
      const watching = new AbortController();
      stops.push(async () => watching.abort());
      await book.start(watching.signal);
      // Only with an HTTPS listener to serve what it gets; started once the activator answers the CA's challenges (below).
      // With --cert-manager-issuer, cert-manager makes them instead (gitd keeps its Certificates, below).
      const issuer = split || upFlags.https === undefined || upFlags.certManagerIssuer !== undefined ? undefined : new AcmeIssuer({
        ...upFlags.acme,
        stateDir: settings.stateDir,
        domain: settings.domain,
        store,
        files,
        book,
        log: root,
        record: (app, text) => localRuntime?.record(app, text),
      });
      if (issuer) stops.push(() => issuer.close());
      // With cert-manager, its HTTP-01 Challenges (in Dormant's namespace) are answered here, in every activator.
      let challenges: ChallengeAnswers | undefined = issuer?.answers;
      if (kube && upFlags.certManagerIssuer) {
        const followed = new kube.CertManagerChallenges({ config: kube.config, namespace: leaseNamespace, log: root });
        followed.start(watching.signal);
        challenges = followed.answers;
      }
      certificates = { book, issuer, challenges };
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
        ...(certificates?.challenges ? { challenges: certificates.challenges } : {}),
        ...(certificates && upFlags.https ? { https: { port: upFlags.https.port, ...(upFlags.https.publicPort === upFlags.https.port ? {} : { publicPort: upFlags.https.publicPort }), tls: certificates.book } } : {}),
      });
    }
    if (wants('gitd') && kube && upFlags.certManagerIssuer) {
      // gitd runs once (the activators and autoscalers run twice): it keeps the Certificates.
      const certManager = new kube.CertManagerCertificates({
        config: kube.config,
        namespace: leaseNamespace,
        appsNamespace: defaultNamespace,
        issuer: upFlags.certManagerIssuer,
        domain: settings.domain,
        store,
        log: root,
        record: (app, text) => kubeRuntime?.record(app, text),
      });
      await certManager.check();
      stops.push(() => certManager.close());
      certManager.start();
    }
    if (wants('gitd')) {
      // Run pods an earlier gitd left: no CLI reads them any more.
      await kubeRuntime?.sweepRunPods().catch((error: unknown) => log.warn({ err: error }, 'run pods left by an earlier gitd cannot be deleted'));
      const pipeline = new PushPipeline({
        store,
        runtime,
        stateDir: settings.stateDir,
        appUrl: (app) => appUrl(publicAddress, app),
        log: root.child({ component: 'gitd' }),
        ...(imageRegistry ? { registry: imageRegistry } : {}),
        buildTimeoutMs: upFlags.buildTimeoutMs,
        hookTimeoutMs: upFlags.hookTimeoutMs,
        nodeRuntimes,
        uvTool: new UvTool(defaultToolsFolder()),
        goToolchains: new GoToolchains(defaultGoFolder()),
        ...(sandbox ? { sandbox, imageTrees } : {}),
      });
      gitd = new GitServer({ stateDir: settings.stateDir, store, pipeline, log: root, registry, port: settings.sshPort, ...upFlags.push, ...upFlags.sshLogin });
      const gitServer = gitd;
      stops.push(() => gitServer.close());
      // Before gitd and the metrics port close (stops run in reverse): dormant run's processes and connections.
      stops.push(async () => runSessions.closeAll());
      sshPort = await gitServer.start().catch((error: NodeJS.ErrnoException) => {
        throw error.code === 'EADDRINUSE' ? cliErrors.portInUse({ port: settings.sshPort, flag: '--ssh-port', purpose: 'git push over SSH' }, { cause: error }) : error;
      });
    }
    const started = activator;
    if (started) {
      stops.push(() => started.close());
      await started.start().catch((error: NodeJS.ErrnoException & { port?: number }) => {
        if (error.code !== 'EADDRINUSE') throw error;
        const https = upFlags.https !== undefined && error.port === upFlags.https.port && error.port !== settings.httpPort;
        throw https
          ? cliErrors.portInUse({ port: error.port ?? 0, flag: '--https-port', purpose: 'HTTPS for apps' }, { cause: error })
          : cliErrors.portInUse({ port: settings.httpPort, flag: '--http-port', purpose: 'HTTP for apps' }, { cause: error });
      });
      httpsPort = started.httpsPort();
      certificates?.issuer?.start();
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  return { store, metrics, sshPort, activator, httpsPort, imagesInSandbox, stopAll };
}
