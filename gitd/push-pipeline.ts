/**
 * What a push to the deploy branch does before its ref moves: check out, build, record a
 * Revision, roll it out, run postDeploy hooks, and say where the app lives. Any failure
 * throws PushRejected with the short reason git prints after "remote rejected"; the
 * previous revision keeps serving.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { type BuildPlan, detectBuild, ensureInRegistry, layerImage, pushBuiltImage, RegistryClient, runBuild, runCommand, stateLabel, stateLabelValue } from '../builder/index.js';
import { type App, apiVersion, defaultNamespace, type PipelineStep, type Revision, type RevisionStatus } from '../crds/index.js';
import { isDormantError } from '../errors/index.js';
import { type ResourceStore, type Runtime, updateWithRetry } from '../runtime/index.js';
import { planInterruptedSweep } from './interrupted-pushes.js';
import type { AppRepository } from './repository.js';

export class PushRejected extends Error {}

export interface PushPipelineOptions {
  readonly store: ResourceStore;
  readonly runtime: Pick<Runtime, 'rollout' | 'retire'>;
  readonly stateDir: string;
  readonly appUrl: (app: string) => string;
  readonly log: Logger;
  /** Wall clock for timestamps in Revision status. */
  readonly now?: () => Date;
  /** The environment builds and hooks run with (the registry, proxy and CA settings of this machine). */
  readonly buildEnv?: Readonly<Record<string, string | undefined>>;
  /** Default 20 min for the whole build. */
  readonly buildTimeoutMs?: number;
  /** Default 10 min per postDeploy hook. */
  readonly hookTimeoutMs?: number;
  /** A registry (host:port) to push each revision's image to, for clusters; none: no image step. */
  readonly registry?: string;
}

export interface DeployRequest {
  readonly app: App;
  readonly repo: AppRepository;
  readonly commit: string;
  readonly branch: string;
  /** One line for the pusher (`remote:`), without newline. */
  readonly progress: (line: string) => void;
  readonly signal?: AbortSignal;
}

export interface Deployed {
  readonly revision: Revision;
  readonly url: string;
  /** Milliseconds per step, in order. */
  readonly timings: readonly { readonly step: string; readonly ms: number }[];
}

const stepNames = ['checkout', 'build', 'image', 'deploy', 'postDeploy'] as const;
type StepName = (typeof stepNames)[number];

const indent = (line: string) => `       ${line}`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const minutes = (ms: number) => (ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : seconds(ms));

export class PushPipeline {
  readonly #options: PushPipelineOptions;
  readonly #now: () => Date;

  constructor(options: PushPipelineOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  async #nextRevisionName(app: string): Promise<string> {
    const revisions = await this.#options.store.list('Revision', { labelSelector: { 'dormant.dev/app': app } });
    let highest = 0;
    for (const r of revisions) {
      const number = Number(/-(\d+)$/.exec(r.metadata.name)?.[1] ?? 0);
      if (number > highest) highest = number;
    }
    return `${app}-${String(highest + 1).padStart(5, '0')}`;
  }

  async deploy(request: DeployRequest): Promise<Deployed> {
    const { app, commit, progress } = request;
    const name = app.metadata.name;
    const { store } = this.#options;
    const began = performance.now();
    const timings: { step: string; ms: number }[] = [];
    const timestamp = () => this.#now().toISOString().replace(/\.\d+Z$/, 'Z');
    const revisionName = await this.#nextRevisionName(name);
    const releaseDir = join(this.#options.stateDir, 'releases', name, revisionName);
    const imageTag = `localhost/dormant/${name}:${revisionName}`;

    // Checkout and detection come before the Revision: its spec (the start command) depends on them.
    let stepStart = performance.now();
    const checkoutStarted = timestamp();
    await rm(releaseDir, { recursive: true, force: true });
    await mkdir(releaseDir, { recursive: true });
    let plan: BuildPlan;
    try {
      await request.repo.exportTree(commit, releaseDir);
      plan = await detectBuild(releaseDir, {
        nodeVersion: process.version,
        strategy: app.spec.build.strategy,
        context: app.spec.build.context,
        dockerfile: app.spec.build.dockerfile,
        args: app.spec.build.args,
      });
    } catch (error) {
      await rm(releaseDir, { recursive: true, force: true });
      throw new PushRejected(isDormantError(error) ? error.message : `checkout failed: ${(error as Error).message}`);
    }
    timings.push({ step: 'checkout', ms: performance.now() - stepStart });
    progress(`-----> Building ${name} (${plan.summary}) from ${request.branch} ${commit.slice(0, 7)}`);

    const steps: PipelineStep[] = stepNames.map((step) => ({ name: step, state: 'pending' }));
    steps[0] = { name: 'checkout', state: 'succeeded', startedAt: checkoutStarted, finishedAt: timestamp(), message: plan.summary };
    let revision = await store.create({
      apiVersion,
      kind: 'Revision',
      metadata: {
        name: revisionName,
        namespace: app.metadata.namespace ?? defaultNamespace,
        labels: { 'dormant.dev/app': name },
        // On Kubernetes, deleting the App deletes its Revisions (the garbage collector follows this).
        ...(app.metadata.uid === undefined ? {} : { ownerReferences: [{ apiVersion, kind: 'App', name, uid: app.metadata.uid }] }),
      },
      spec: {
        app: name,
        commit,
        branch: request.branch,
        strategy: plan.kind === 'dockerfile' ? 'dockerfile' : app.spec.build.strategy,
        releaseDir,
        ...(plan.kind === 'dockerfile' ? { image: imageTag } : {}),
        run: plan.kind === 'dockerfile' ? { ...app.spec.run } : { ...app.spec.run, command: app.spec.run.command ?? [...plan.start] },
      },
      status: { phase: 'Building', steps },
    });
    await this.#setAppStatus(app, { latestRevision: revisionName });
    const record = async (step: StepName, change: Partial<PipelineStep>, phase?: RevisionStatus['phase']) => {
      const index = stepNames.indexOf(step);
      const current = steps[index] ?? { name: step, state: 'pending' };
      steps[index] = { ...current, ...change };
      revision = await store.updateStatus({ ...revision, status: { ...(revision.status ?? { phase: 'Building', steps: [] }), steps: [...steps], ...(phase ? { phase } : {}) } });
    };
    const fail = async (step: StepName, message: string, reason: string): Promise<never> => {
      await record(step, { state: 'failed', finishedAt: timestamp(), message }, 'Failed').catch(() => {});
      await this.#setAppStatus(app, { latestRevisionSteps: [...steps] }).catch(() => {});
      throw new PushRejected(reason);
    };

    // Build.
    stepStart = performance.now();
    await record('build', { state: 'running', startedAt: timestamp() });
    const buildTimeoutMs = this.#options.buildTimeoutMs ?? 20 * 60_000;
    const buildDeadline = AbortSignal.timeout(buildTimeoutMs);
    try {
      await runBuild(plan, {
        dir: releaseDir,
        cacheDir: join(this.#options.stateDir, 'cache'),
        env: this.#options.buildEnv ?? process.env,
        onLine: (line) => progress(indent(line)),
        onStep: (step) => progress(`-----> ${step}`),
        imageTag,
        imageLabels: { [stateLabel]: stateLabelValue(this.#options.stateDir) },
        signal: request.signal ? AbortSignal.any([request.signal, buildDeadline]) : buildDeadline,
      });
    } catch (error) {
      let message = isDormantError(error) ? error.message : (error as Error).message;
      if (buildDeadline.aborted) message = `the build took longer than ${minutes(buildTimeoutMs)} and was stopped`;
      progress(`-----> Build failed: ${message}`);
      await rm(releaseDir, { recursive: true, force: true });
      await fail('build', message, `build failed: ${message.replace(/; its output is above$/, '')}`);
    }
    await record('build', { state: 'succeeded', finishedAt: timestamp() }, 'Deploying');
    timings.push({ step: 'build', ms: performance.now() - stepStart });

    // Image: each revision also becomes an OCI image in the registry, by digest, for clusters.
    stepStart = performance.now();
    if (this.#options.registry === undefined) {
      await record('image', { state: 'skipped', message: 'no registry configured (dormant up --registry)' });
    } else {
      await record('image', { state: 'running', startedAt: timestamp() });
      try {
        const image = await this.#pushImage(plan, { name, revisionName, releaseDir, imageTag, registry: this.#options.registry, progress });
        progress(`-----> Image ${image}`);
        await record('image', { state: 'succeeded', finishedAt: timestamp(), message: image });
        revision = await store.updateStatus({ ...revision, status: { ...(revision.status ?? { phase: 'Building', steps: [] }), image } });
      } catch (error) {
        const message = isDormantError(error) ? error.message : (error as Error).message;
        progress(`-----> Image failed: ${message}`);
        await rm(releaseDir, { recursive: true, force: true });
        await fail('image', message, `image failed: ${message}`);
      }
      timings.push({ step: 'image', ms: performance.now() - stepStart });
    }

    // Deploy: new replicas ready before old ones drain; at zero, one replica proves it starts.
    stepStart = performance.now();
    const previous = app.status?.readyRevision;
    progress(`-----> Starting ${revisionName}`);
    await record('deploy', { state: 'running', startedAt: timestamp() });
    try {
      await this.#options.runtime.rollout(app, revision, { verifyAtZero: true });
    } catch (error) {
      const message = isDormantError(error) ? error.message : (error as Error).message;
      for (const line of message.split('\n')) progress(indent(line));
      await rm(releaseDir, { recursive: true, force: true });
      await fail('deploy', message, `deploy failed: ${message.split('\n')[0]}`);
    }
    await record('deploy', { state: 'succeeded', finishedAt: timestamp() });
    timings.push({ step: 'deploy', ms: performance.now() - stepStart });

    // postDeploy hooks, in the new release; a failure rolls back to the previous revision.
    stepStart = performance.now();
    if (app.spec.hooks.postDeploy.length === 0) {
      await record('postDeploy', { state: 'skipped' });
    } else {
      await record('postDeploy', { state: 'running', startedAt: timestamp() });
      for (const hook of app.spec.hooks.postDeploy) {
        progress(`-----> Running postDeploy: ${hook}`);
        const env = { ...(this.#options.buildEnv ?? process.env), ...app.spec.run.env };
        const hookTimeoutMs = this.#options.hookTimeoutMs ?? 10 * 60_000;
        const hookDeadline = AbortSignal.timeout(hookTimeoutMs);
        let failure = await runCommand(['/bin/sh', '-c', hook], {
          cwd: releaseDir,
          env: { ...env, PATH: `${join(releaseDir, 'node_modules', '.bin')}:${env.PATH ?? ''}` },
          onLine: (line) => progress(indent(line)),
          signal: hookDeadline,
        });
        if (failure !== undefined && hookDeadline.aborted) failure = `took longer than ${minutes(hookTimeoutMs)} and was stopped`;
        if (failure !== undefined) {
          const back = previous ? await store.find('Revision', previous, app.metadata.namespace) : undefined;
          if (back) {
            progress(`-----> postDeploy failed: rolling back to ${previous}`);
            await this.#options.runtime.rollout(app, back).catch((error: Error) => progress(indent(`rollback failed: ${error.message}`)));
          } else {
            // A first deploy has nothing to go back to: nothing serves until a push succeeds.
            progress('-----> postDeploy failed: stopping the new revision (there is no earlier one)');
            await this.#options.runtime.retire(name);
          }
          await fail('postDeploy', `"${hook}" ${failure}`, `postDeploy hook failed: "${hook}" ${failure}`);
        }
      }
      await record('postDeploy', { state: 'succeeded', finishedAt: timestamp() });
    }
    timings.push({ step: 'postDeploy', ms: performance.now() - stepStart });

    const url = this.#options.appUrl(name);
    await record('postDeploy', {}, 'Ready');
    await this.#setAppStatus(app, { readyRevision: revisionName, latestRevision: revisionName, url, latestRevisionSteps: [...steps] });
    const perStep = timings.map((t) => `${t.step} ${Math.round(t.ms)} ms`).join(', ');
    progress(`-----> Deployed ${revisionName} to ${url} (${seconds(performance.now() - began)}: ${perStep})`);
    return { revision, url, timings };
  }

  /**
   * Marks the pushes an earlier Dormant left under way (killed while building or deploying)
   * Failed with reason Interrupted, removes their release folders, and puts back the
   * revision that served before when the interrupted one had taken over (Kubernetes
   * publishes it before postDeploy). Run once, before gitd takes pushes: only one `dormant
   * up` runs per state folder, so none of them is still being pushed. Returns their names.
   */
  async recoverInterrupted(): Promise<string[]> {
    const { store, log } = this.#options;
    const sweep = planInterruptedSweep({
      revisions: await store.list('Revision'),
      apps: await store.list('App'),
      releasesDir: join(this.#options.stateDir, 'releases'),
      nowIso: this.#now().toISOString().replace(/\.\d+Z$/, 'Z'),
    });
    for (const revision of sweep.revisions) {
      await store.updateStatus(revision);
      log.warn({ app: revision.spec.app, revision: revision.metadata.name, reason: revision.status?.reason }, revision.status?.message ?? 'push interrupted');
    }
    for (const path of sweep.paths) await rm(path, { recursive: true, force: true });
    for (const change of sweep.apps) {
      if (change.rollBack) {
        const app = await store.get('App', change.name, change.namespace);
        const back = change.rollBack.to;
        const restored = back ? this.#options.runtime.rollout(app, back) : this.#options.runtime.retire(change.name);
        await restored.catch((error: Error) => log.error({ app: change.name, err: error }, 'cannot go back to the revision that served before the interrupted push'));
      }
      await updateWithRetry(async () => {
        const current = await store.get('App', change.name, change.namespace);
        const { readyRevision, ...rest } = current.status ?? {};
        const serving = change.rollBack ? change.rollBack.to?.metadata.name : readyRevision;
        const status = { ...rest, ...(serving === undefined ? {} : { readyRevision: serving }), ...(change.latestRevisionSteps ? { latestRevisionSteps: [...change.latestRevisionSteps] } : {}) };
        await store.updateStatus({ ...current, status });
      });
    }
    return sweep.revisions.map((revision) => revision.metadata.name);
  }

  /** The revision as an image in the registry: podman's build pushed, or the release folder layered onto node:20-slim. */
  async #pushImage(
    plan: BuildPlan,
    at: { name: string; revisionName: string; releaseDir: string; imageTag: string; registry: string; progress: (line: string) => void },
  ): Promise<string> {
    const registry = new RegistryClient(at.registry);
    const onLine = (line: string) => at.progress(indent(line));
    if (plan.kind === 'dockerfile') {
      const pushed = await pushBuiltImage({ registry, localImage: at.imageTag, repository: `dormant/${at.name}`, tag: at.revisionName, digestFile: join(at.releaseDir, '..', `${at.revisionName}.digest`), onLine });
      return pushed.reference;
    }
    await ensureInRegistry({ registry, localImage: 'docker.io/library/node:20-slim', repository: 'library/node', tag: '20-slim', onLine });
    const layered = await layerImage({
      registry,
      base: { repository: 'library/node', tag: '20-slim' },
      repository: `dormant/${at.name}`,
      tag: at.revisionName,
      layerDir: at.releaseDir,
      command: plan.start,
      now: this.#now(),
    });
    return layered.reference;
  }

  /** Merges fields into the App's status, retrying when another writer got there first. */
  async #setAppStatus(app: App, fields: { readyRevision?: string; latestRevision?: string; url?: string; latestRevisionSteps?: PipelineStep[] }): Promise<void> {
    await updateWithRetry(async () => {
      const current = await this.#options.store.get('App', app.metadata.name, app.metadata.namespace);
      await this.#options.store.updateStatus({ ...current, status: { ...current.status, ...fields } });
    });
  }
}
