/**
 * What a push to the deploy branch does before its ref moves: the steps of push-steps.ts
 * (check out, build, image, roll out, postDeploy hooks, recorded in a Revision), then say
 * where the app lives. Any failure throws PushRejected with the short reason git prints
 * after "remote rejected"; the previous revision keeps serving.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { GoToolchains, ImageTrees, NodeRuntimes, UvTool } from '../builder/index.js';
import { type App, apiTimestamp, containerResources, defaultNamespace, localImageOf, type PipelineStep, type Revision } from '../crds/index.js';
import { replicaLimits } from '../sandbox/index.js';
import { gitdErrors } from './errors.js';
import { BuildLog } from './build-log.js';
import { type OneOffProcess, type ResourceStore, type Runtime, type TerminalSize, updateWithRetry } from '../runtime/index.js';
import type { HostSandbox } from '../sandbox/index.js';
import { planInterruptedSweep } from './interrupted-pushes.js';
import { type Push, pushSteps, releaseRun, releaseSteps, seconds, tenantRunsDir } from './push-steps.js';
import { type ReleasePlan, releaseNumber } from './release-plan.js';
import type { AppRepository } from './repository.js';
import { RevisionJournal } from './revision-journal.js';
import { runSteps, type StepChain, type StepTiming } from './step-chain.js';

export class PushRejected extends Error {}

export interface PushPipelineOptions {
  readonly store: ResourceStore;
  readonly runtime: Pick<Runtime, 'rollout' | 'retire' | 'record' | 'runOneOff'>;
  readonly stateDir: string;
  readonly appUrl: (app: string) => string;
  readonly log: Logger;
  /** Wall clock for timestamps in Revision status. */
  readonly now?: () => Date;
  /** Where builds and hooks run: the app's sandbox (sandbox/). Without it, as Dormant's user (--insecure-no-sandbox, or in a pod). */
  readonly sandbox?: HostSandbox;
  /** The host variables builds and hooks get are taken from this (the registry, proxy and CA settings of this machine; sandbox/ lists them). */
  readonly buildEnv?: Readonly<Record<string, string | undefined>>;
  /** Default 20 min for the whole build. */
  readonly buildTimeoutMs?: number;
  /** Default 10 min per postDeploy hook. */
  readonly hookTimeoutMs?: number;
  /** Dockerfile apps' images unpacked for the sandbox (shared with the local runtime): their hooks run over them. */
  readonly imageTrees?: ImageTrees;
  /** Node releases apps ask for, fetched from the npm registry (shared with the local runtime). */
  readonly nodeRuntimes?: NodeRuntimes;
  /** uv, which Python builds install dependencies with, fetched from the package index once. */
  readonly uvTool?: UvTool;
  /** Go toolchains go.mod files ask for, fetched from the Go module proxy once per machine. */
  readonly goToolchains?: GoToolchains;
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
  /** Who pushed: the key's fingerprint and comment, recorded on the Revision. */
  readonly by?: string;
}

/** A one-off process of `dormant run`. */
export type OneOff = OneOffProcess;

/** A word as a POSIX shell reads it back whole: single-quoted. Pure. */
export const shellWord = (word: string): string => `'${word.replace(/'/g, "'\\''")}'`;

export interface ReleaseRequest {
  readonly app: App;
  readonly plan: ReleasePlan;
  readonly progress: (line: string) => void;
}

export interface Deployed {
  readonly revision: Revision;
  readonly url: string;
  /** Milliseconds per step, in order. */
  readonly timings: readonly StepTiming[];
}

type AppStatusFields = { readyRevision?: string; latestRevision?: string; url?: string; latestRevisionSteps?: PipelineStep[] };

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
    const began = performance.now();
    const name = request.app.metadata.name;
    const revisionName = await this.#nextRevisionName(name);
    const releaseDir = join(this.#options.stateDir, 'releases', name, revisionName);
    const setAppStatus = (fields: AppStatusFields) => this.#setAppStatus(request.app, fields);
    const journal = new RevisionJournal({ store: this.#options.store, now: this.#now, toApp: (steps) => setAppStatus({ latestRevisionSteps: steps }) });
    const log = new BuildLog();
    const logged = { ...request, progress: log.tee(request.progress) };
    const push: Push = { request: logged, options: this.#options, revisionName, releaseDir, imageTag: `localhost/dormant/${name}:${revisionName}`, journal, now: this.#now, setAppStatus };
    const what = `Deploy ${request.commit.slice(0, 7)} from ${request.branch}${request.by ? ` by ${request.by}` : ''}`;
    this.#record(name, `${what}: building ${revisionName}`);
    try {
      const timings = await this.#runChain(pushSteps, push, undefined, `${what}: rejected`);
      return await this.#served(request.app, revisionName, journal, timings, began, logged.progress);
    } catch (error) {
      log.note(`-----> Rejected: ${(error as Error).message}`);
      throw error;
    } finally {
      await this.#saveLog(log, name, revisionName);
    }
  }

  /**
   * A release of an earlier build with other config (a config change, a rollback), as a new
   * Revision: its files reused (no build), rolled out as a push's are (new replicas ready
   * before old ones drain; at zero, one replica proves it starts), its postDeploy hooks run.
   * The caller holds the app's push lock.
   */
  async release(request: ReleaseRequest): Promise<Deployed> {
    const began = performance.now();
    const { app, plan } = request;
    const name = app.metadata.name;
    const revisionName = await this.#nextRevisionName(name);
    const releaseDir = join(this.#options.stateDir, 'releases', name, revisionName);
    const setAppStatus = (fields: AppStatusFields) => this.#setAppStatus(app, fields);
    const journal = new RevisionJournal({ store: this.#options.store, now: this.#now, toApp: (steps) => setAppStatus({ latestRevisionSteps: steps }) });
    const log = new BuildLog();
    const progress = log.tee(request.progress);
    const rollout = { app, commit: plan.from.spec.commit, branch: plan.from.spec.branch ?? '', progress, ...(plan.change.by === undefined ? {} : { by: plan.change.by }) };
    const push: Push = { request: rollout, options: this.#options, revisionName, releaseDir, imageTag: localImageOf(name, revisionName), journal, now: this.#now, setAppStatus };
    progress(`-----> ${plan.change.description}: releasing the build of ${plan.from.metadata.name} (${plan.from.spec.commit.slice(0, 7)}) as ${revisionName}`);
    const what = `${plan.change.description}${plan.change.by ? ` by ${plan.change.by}` : ''}`;
    this.#record(name, `${what}: releasing the build of ${plan.from.metadata.name} as ${revisionName}`);
    try {
      const timings = await this.#runChain(releaseSteps, push, plan, `${what}: failed`);
      return await this.#served(app, revisionName, journal, timings, began, progress);
    } catch (error) {
      log.note(`-----> Failed: ${(error as Error).message}`);
      throw error;
    } finally {
      await this.#saveLog(log, name, revisionName);
    }
  }

  /** Keeps what the push said; a log that cannot be written costs the push nothing. */
  async #saveLog(log: BuildLog, app: string, revision: string): Promise<void> {
    await log.save(this.#options.stateDir, app, revision).catch((error: unknown) => this.#options.log.warn({ app, revision, err: error }, 'the build log cannot be kept'));
  }

  /** The steps of a push or release; a failure removes its release folder, rejects with the pusher's reason, and is said among the app's logs. */
  async #runChain<In, Out>(chain: StepChain<Push, In, Out>, push: Push, input: In, failed: string): Promise<StepTiming[]> {
    try {
      const { timings } = await runSteps(chain, {
        context: push,
        input,
        journal: push.journal,
        cleanUp: () => rm(push.releaseDir, { recursive: true, force: true }),
        reject: (reason) => new PushRejected(reason),
      });
      return timings;
    } catch (error) {
      this.#record(push.request.app.metadata.name, `${failed} (${(error as Error).message})`);
      throw error;
    }
  }

  async #served(app: App, revisionName: string, journal: RevisionJournal, timings: StepTiming[], began: number, progress: (line: string) => void): Promise<Deployed> {
    const url = this.#options.appUrl(app.metadata.name);
    await journal.set({ phase: 'Ready' });
    await this.#setAppStatus(app, { readyRevision: revisionName, latestRevision: revisionName, url, latestRevisionSteps: journal.steps });
    const perStep = timings.map((t) => `${t.step} ${Math.round(t.ms)} ms`).join(', ');
    this.#record(app.metadata.name, `Release v${releaseNumber(revisionName)} (${revisionName}) serves: ${journal.revision.spec.change?.description ?? 'deploy'} (${seconds(performance.now() - began)})`);
    progress(`-----> Deployed ${revisionName} to ${url} (${seconds(performance.now() - began)}: ${perStep})`);
    return { revision: journal.revision, url, timings };
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
      nowIso: apiTimestamp(this.#now()),
    });
    for (const revision of sweep.revisions) {
      await store.updateStatus(revision);
      log.warn({ app: revision.spec.app, revision: revision.metadata.name, reason: revision.status?.reason }, revision.status?.message ?? 'push interrupted');
    }
    for (const path of sweep.paths) await rm(path, { recursive: true, force: true });
    // The sandboxes' files of builds and hooks an earlier Dormant was running.
    await rm(tenantRunsDir(this.#options.stateDir), { recursive: true, force: true });
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

  #record(app: string, text: string): void {
    this.#options.runtime.record?.(app, text);
  }

  /**
   * A one-off process in the release that serves the app (`dormant run`): its image or
   * stack, its config, its sandbox, as its replicas and hooks run; standard input, output
   * and error are the caller's. It dies with Dormant, and `stop` kills it and what it started.
   */
  async startOneOff(name: string, argv: readonly string[], terminal?: TerminalSize): Promise<OneOff> {
    const app = await this.#options.store.get('App', name);
    const serving = app.status?.readyRevision;
    const revision = serving === undefined ? undefined : await this.#options.store.find('Revision', serving, app.metadata.namespace ?? defaultNamespace);
    if (!revision) throw gitdErrors.nothingDeployed({ app: name, what: 'run a command in' });
    // A runtime with processes of its own (Kubernetes: a pod of the revision, isolated as its replicas are).
    const { runtime } = this.#options;
    if (!this.#options.sandbox && runtime.runOneOff !== undefined && revision.status?.image !== undefined) {
      const process = await runtime.runOneOff(app, revision, argv, terminal);
      this.#record(name, `Run ${JSON.stringify(argv.join(' ').slice(0, 200))} in ${revision.metadata.name}`);
      return process;
    }
    // Only in the sandbox: without one (--insecure-no-sandbox, or in a pod) the tenant's command would run with Dormant's rights.
    if (!this.#options.sandbox) throw gitdErrors.runUnsandboxed({});
    const runFolder = join(tenantRunsDir(this.#options.stateDir), `${revision.metadata.name}-run-${randomBytes(4).toString('hex')}`);
    const { sandbox, env } = await releaseRun(this.#options, {
      app: name,
      revision,
      runFolder,
      progress: () => undefined,
      limits: replicaLimits(containerResources(revision.spec.run.resources)),
      ...(revision.spec.change === undefined ? { envUnder: app.spec.run.env } : {}),
    });
    if (!sandbox) throw gitdErrors.runUnsandboxed({});
    // From a terminal: the command on a pseudo-terminal of util-linux's script (Debian's images and hosts have it), at the terminal's size;
    // an image without script runs it on pipes, as without a terminal. script runs the line with $SHELL: /bin/sh, whatever the app's config says.
    // On the terminal, a loop beside the command reads the CLI's new sizes ("COLS ROWS" lines) from fd 5 and sets them on it, which signals the command (SIGWINCH); the command itself does not get fd 5.
    const command =
      terminal === undefined
        ? argv
        : [
            '/bin/sh',
            '-c',
            'if command -v script >/dev/null 2>&1; then SHELL=/bin/sh exec script -qfec "$0" /dev/null; fi; exec "$@" 5<&-',
            `stty cols ${terminal.columns} rows ${terminal.rows} 2>/dev/null; (while read -r c r <&5; do stty cols "$c" rows "$r" </dev/tty 2>/dev/null; done) & exec ${argv.map(shellWord).join(' ')} 5<&-`,
            ...argv,
          ];
    const confined = sandbox.confine(command, env);
    const [program = 'false', ...args] = confined.argv;
    const child = spawn(program, args, { cwd: runFolder, env: confined.env, stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'ignore', terminal === undefined ? 'ignore' : 'pipe'], detached: true });
    const sizes = terminal === undefined ? undefined : ((child.stdio as unknown[])[5] as Writable | null | undefined);
    sizes?.on('error', () => undefined);
    const fd3 = child.stdio[3] as Writable | null | undefined;
    fd3?.on('error', () => undefined);
    fd3?.end(confined.input3);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('error', () => resolve({ code: 127, signal: null }));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    this.#record(name, `Run ${JSON.stringify(argv.join(' ').slice(0, 200))} in ${revision.metadata.name}`);
    const { stdin, stdout, stderr } = child;
    // Pipes, as asked: never null (the type cannot say so for six of them).
    if (!stdin || !stdout || !stderr) throw new Error('the run has no standard streams');
    return {
      stdin,
      stdout,
      stderr,
      exited: exited.finally(() => {
        sizes?.destroy();
        sandbox.done();
      }),
      stop: () => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Gone already.
        }
      },
      // A loop that stopped reading (the command killed it) leaves sizes unsent, not piled up in dormant up.
      ...(sizes ? { resize: (size: TerminalSize) => void (sizes.writableLength < 4096 && sizes.write(`${size.columns} ${size.rows}\n`)) } : {}),
    };
  }

  /** Merges fields into the App's status, retrying when another writer got there first. */
  async #setAppStatus(app: App, fields: AppStatusFields): Promise<void> {
    await updateWithRetry(async () => {
      const current = await this.#options.store.get('App', app.metadata.name, app.metadata.namespace);
      await this.#options.store.updateStatus({ ...current, status: { ...current.status, ...fields } });
    });
  }
}
