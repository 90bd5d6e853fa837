/**
 * gitd's SSH server: public keys only, one command (git-receive-pack), pushes to one app
 * serialized, pushes to different apps in parallel.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import ssh2, { type AuthenticationType, type Connection } from 'ssh2';
import { type App, apiVersion, defaultNamespace } from '../crds/index.js';
import { isDormantError } from '../errors/index.js';
import { treeBindingProblem } from '../lifetime/index.js';
import { Informer, type ResourceStore, type TerminalSize, updateWithRetry } from '../runtime/index.js';
import { writeFileAtomic } from '../state-folder/index.js';
import { AdminKeys } from './admin-keys.js';
import { gitdErrors } from './errors.js';
import { parseGitCommand } from './git-command.js';
import { disconnectReason, disconnectSaying } from './ssh-disconnect.js';
import { countsAsAuthFailure, defaultLoginLimits, type LoginLimits, type MaxStartups, startupDecision } from './login-limits.js';
import { fingerprintOf, parsePublicKeyLine } from './public-key.js';
import { type GitChannel, serveReceivePack } from './receive-pack.js';
import { AppRepository } from './repository.js';
import type { Deployed, OneOff, PushPipeline } from './push-pipeline.js';
import { planRelease, type ReleaseAsk } from './release-plan.js';

const { Server, utils } = ssh2;

export interface GitServerOptions {
  readonly stateDir: string;
  readonly store: ResourceStore;
  readonly pipeline: Pick<PushPipeline, 'deploy' | 'recoverInterrupted' | 'release' | 'startOneOff'>;
  readonly log: Logger;
  readonly registry?: Registry;
  readonly port: number;
  /** Listen address; loopback by default. */
  readonly host?: string;
  /** Default 200 MiB. */
  readonly maxPackBytes?: number;
  /** What one object of a pack may inflate to; default 100 MiB. */
  readonly maxObjectBytes?: number;
  /** What all objects of one push may inflate to; default 2 GiB. */
  readonly maxPushBytes?: number;
  /** Objects one push may send; default 100,000. */
  readonly maxObjectsPerPush?: number;
  /** The longest chain of deltas a pack may hold; default 50 (git's pack.depth). */
  readonly maxDeltaDepth?: number;
  /** Refs one push may update; default 1,000. */
  readonly maxRefsPerPush?: number;
  readonly keepaliveMs?: number;
  /** How long close() waits for pushes in flight; default 30 s. */
  readonly closeGraceMs?: number;
  /** LoginGraceTime: a connection not authenticated this long after it opened is closed; default 30 s. */
  readonly loginGraceMs?: number;
  /** MaxStartups for unauthenticated connections; default 10:30:100. */
  readonly maxStartups?: MaxStartups;
  /** MaxAuthTries: refused authentication requests per connection before it is closed; default 6. */
  readonly maxAuthTries?: number;
  /** Under the MaxStartups cap, the oldest connection waiting this long to log in makes room for a new one; default 2 s. */
  readonly evictAfterMs?: number;
  /** The random source of MaxStartups' early drop; Math.random by default. */
  readonly random?: () => number;
  /** A monotonic clock in ms, for idleness and the drop log; performance.now by default. */
  readonly now?: () => number;
}

/** A connection that has not authenticated yet, from the raw socket on. */
interface Pending {
  readonly socket: Socket;
  readonly openedMs: number;
  readonly graceTimer: NodeJS.Timeout;
  /** Set once ssh2 has read the client's version line. */
  client: Connection | undefined;
  failedAuths: number;
}

/** How often a burst of refused connections is summed up in one warning. */
const dropLogIntervalMs = 10_000;

/** Who a client authenticated as. */
interface Pusher {
  readonly fingerprint: string;
  readonly admin: boolean;
  /** The key's comment, where its line has one (user@host, as ssh-keygen writes it). */
  readonly comment?: string;
}

const sameEnv = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean => {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
};

/** Who made a release, as its Revision records it: the key's fingerprint and comment. */
const pusherName = (pusher: Pusher): string => `${pusher.fingerprint}${pusher.comment ? ` (${pusher.comment.slice(0, 120)})` : ''}`;

/** The host key, made on first start and kept: clients pin it in known_hosts. */
async function hostKey(stateDir: string): Promise<string> {
  const file = join(stateDir, 'ssh_host_ed25519_key');
  if (existsSync(file)) return readFile(file, 'utf8');
  // ssh2 makes a key it cannot read back about once in 300 (seen: "Malformed OpenSSH
  // private key"): keep the first one that parses.
  let pair = utils.generateKeyPairSync('ed25519', { comment: 'dormant gitd host key' });
  for (let attempt = 0; attempt < 20 && utils.parseKey(pair.private) instanceof Error; attempt++) {
    pair = utils.generateKeyPairSync('ed25519', { comment: 'dormant gitd host key' });
  }
  await writeFileAtomic(file, pair.private);
  await chmod(file, 0o600);
  await writeFileAtomic(`${file}.pub`, `${pair.public}\n`);
  return pair.private;
}

export class GitServer {
  readonly #options: GitServerOptions;
  readonly #log: Logger;
  readonly #adminKeys: AdminKeys;
  /** The tail of each app's chain of pushes: one at a time per app. */
  readonly #repoLocks = new Map<string, Promise<unknown>>();
  readonly #pushes: Counter;
  /** Open SSH connections, ended on close so that dormant up can stop. */
  readonly #clients = new Set<{ end(): unknown }>();
  /** Pushes being served: close waits for them (up to closeGraceMs) before ending connections. */
  readonly #inFlight = new Set<Promise<unknown>>();
  /** The listening socket: connections are timed and counted here, before ssh2 sees them. */
  #listener: NetServer | undefined;
  /** Connections not authenticated yet, by remote address and port. */
  readonly #pending = new Map<string, Pending>();
  readonly #limits: LoginLimits;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #refused: Counter;
  /** Refusals since the last warning, by reason; and when that warning went out. */
  readonly #unlogged = new Map<string, number>();
  #lastDropLogMs = Number.NEGATIVE_INFINITY;
  /** Every App, kept current by the store's watch: a login looks its key up here instead of reading every App. */
  #apps: Informer<'App'> | undefined;
  /** Fingerprints of the keys each App lists in spec.git.authorizedKeys, by app, and how many apps list each. */
  readonly #appKeys = new Map<string, readonly string[]>();
  readonly #keyUses = new Map<string, number>();

  constructor(options: GitServerOptions) {
    this.#options = options;
    this.#log = options.log.child({ component: 'gitd' });
    this.#limits = {
      graceMs: options.loginGraceMs ?? defaultLoginLimits.graceMs,
      maxStartups: options.maxStartups ?? defaultLoginLimits.maxStartups,
      maxAuthTries: options.maxAuthTries ?? defaultLoginLimits.maxAuthTries,
      evictAfterMs: options.evictAfterMs ?? defaultLoginLimits.evictAfterMs,
    };
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? (() => performance.now());
    this.#refused = new Counter({
      name: 'dormant_gitd_ssh_refused_total',
      help: 'SSH connections closed before login, by reason (max_startups, evicted, login_grace, max_auth_tries)',
      labelNames: ['reason'],
      registers: options.registry ? [options.registry] : [],
    });
    this.#adminKeys = new AdminKeys(options.stateDir);
    this.#pushes = new Counter({
      name: 'dormant_gitd_pushes_total',
      help: 'Pushes by app and result (ok, rejected, refused, error)',
      labelNames: ['app', 'result'],
      registers: options.registry ? [options.registry] : [],
    });
  }

  /** Starts listening; resolves with the port. */
  async start(): Promise<number> {
    const reposDir = join(this.#options.stateDir, 'repos');
    await mkdir(reposDir, { recursive: true });
    // Packs an earlier process was receiving when it died: no push owns them now (the state
    // folder has one `dormant up`, and gitd runs once per cluster).
    await rm(join(this.#options.stateDir, 'incoming'), { recursive: true, force: true });
    // Before any push: what a killed Dormant left building or deploying is marked failed.
    await this.#options.pipeline.recoverInterrupted().catch((error: Error) => this.#log.error({ err: error }, 'cannot mark the pushes an earlier run left under way as interrupted'));
    const unbound = treeBindingProblem();
    if (unbound) this.#log.warn({ reason: unbound }, 'build steps and hooks die with Dormant, but what they start may not');
    const apps = new Informer(this.#options.store, 'App', { onEnd: (error) => this.#log.error({ err: error }, 'app watch ended: keys listed in Apps changed from now on are not seen') });
    apps.onChange((event) => this.#indexKeys(event.object, event.type === 'DELETED'));
    await apps.start();
    for (const app of apps.list()) this.#indexKeys(app, false);
    this.#apps = apps;
    const server = new Server({ hostKeys: [await hostKey(this.#options.stateDir)], ident: 'dormant-gitd' }, (client, info) => {
      this.#clients.add(client);
      client.on('close', () => this.#clients.delete(client));
      // The connection was counted and timed from its first byte; from here on ssh2 speaks for it.
      const pending = this.#pending.get(`${info.ip}|${info.port}`);
      if (pending) pending.client = client;
      let pusher: Pusher | undefined;
      const refuse = (ctx: { method: string; reject(methods?: AuthenticationType[]): void }) => {
        if (pending && countsAsAuthFailure(ctx.method) && ++pending.failedAuths >= this.#limits.maxAuthTries) {
          // As sshd: the last failure closes the connection instead of asking for more.
          this.#noteRefused('max_auth_tries', pending.socket);
          disconnectSaying(
            client,
            pending.socket,
            disconnectReason.noMoreAuthMethods,
            `Too many authentication failures: Dormant refused ${pending.failedAuths} (--ssh-max-auth-tries ${this.#limits.maxAuthTries}); offer only the key Dormant knows (ssh -i KEY -o IdentitiesOnly=yes)`,
          );
          return;
        }
        ctx.reject(['publickey']);
      };
      client.on('authentication', (ctx) => {
        if (ctx.method !== 'publickey') {
          refuse(ctx);
          return;
        }
        const key = ctx.key;
        const signature = ctx.signature;
        const blob = ctx.blob;
        const hashAlgo = ctx.hashAlgo;
        this.#findKey(key.data).then(
          (found) => {
            if (!found) {
              this.#log.info({ fingerprint: fingerprintOf(key.data), user: ctx.username }, 'ssh key refused: unknown');
              refuse(ctx);
              return;
            }
            // The first round only asks whether the key would do; the second proves it.
            if (signature && blob) {
              const parsed = utils.parseKey(`${key.algo} ${key.data.toString('base64')}`);
              if (parsed instanceof Error || parsed.verify(blob, signature, hashAlgo) !== true) {
                refuse(ctx);
                return;
              }
              pusher = found;
            }
            ctx.accept();
          },
          () => refuse(ctx),
        );
      });
      client.on('ready', () => {
        if (pending) this.#authenticated(pending);
        client.on('session', (acceptSession) => {
          const session = acceptSession();
          session.on('env', (accept) => accept?.());
          session.on('pty', (accept) => accept?.());
          session.on('shell', (accept) => {
            const channel = accept();
            channel.stderr.write('Hi! Dormant has no shell. Deploy with: git remote add dormant ssh://git@HOST:PORT/APP && git push dormant main\n');
            channel.exit(1);
            channel.end();
          });
          session.on('exec', (accept, _reject, info) => {
            const channel = accept() as unknown as GitChannel & { exit(code: number): void };
            const who = pusher;
            const serving = this.#exec(channel, info.command, who, reposDir);
            this.#inFlight.add(serving);
            void serving.finally(() => this.#inFlight.delete(serving)).catch(() => {});
            serving.then(
              (code) => {
                channel.exit(code);
                channel.end();
              },
              (error: Error) => {
                this.#log.error({ err: error, command: info.command }, 'push failed unexpectedly');
                channel.stderr.write(`error: Dormant failed internally: ${error.message}\n`);
                channel.exit(1);
                channel.end();
              },
            );
          });
        });
      });
      // A client that goes away mid-push is not Dormant's error.
      client.on('error', (error) => this.#log.debug({ err: error.message }, 'ssh client error'));
    });
    server.on('error', (error: Error) => this.#log.error({ err: error }, 'ssh server error'));
    // Dormant listens itself and hands each socket to ssh2: ssh2 reports a connection only
    // after the client's version line, and a client that sends nothing must be timed too.
    const listener = createServer((socket) => this.#accept(socket, server));
    listener.on('error', (error: Error) => this.#log.error({ err: error }, 'ssh listener error'));
    this.#listener = listener;
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(this.#options.port, this.#options.host ?? '127.0.0.1', () => {
        listener.off('error', reject);
        resolve();
      });
    });
    return (listener.address() as { port: number }).port;
  }

  /** A new TCP connection: MaxStartups decides whether it may wait to log in, LoginGraceTime how long. */
  #accept(socket: Socket, server: InstanceType<typeof Server>): void {
    if (socket.remoteAddress === undefined) {
      // Gone before it was accepted.
      socket.destroy();
      return;
    }
    const now = this.#now();
    // The map keeps insertion order: its first entry has waited longest.
    const oldest: Pending | undefined = this.#pending.values().next().value;
    const decision = startupDecision({
      limits: this.#limits.maxStartups,
      unauthenticated: this.#pending.size,
      random: this.#random(),
      oldestWaitMs: oldest ? now - oldest.openedMs : undefined,
      evictAfterMs: this.#limits.evictAfterMs,
    });
    if (decision === 'drop') {
      this.#noteRefused('max_startups', socket);
      // Before the version line, so plain text, as sshd's "Exceeded MaxStartups".
      socket.on('error', () => {});
      socket.end('Exceeded MaxStartups: too many SSH connections are waiting to log in to Dormant; try again shortly\r\n');
      socket.setTimeout(5_000, () => socket.destroy());
      return;
    }
    if (decision === 'evict-oldest' && oldest) {
      this.#noteRefused('evicted', oldest.socket);
      this.#drop(oldest, `Waited ${Math.round((now - oldest.openedMs) / 1000)} s without logging in while others wait (--ssh-max-startups)`);
    }
    const key = `${socket.remoteAddress}|${socket.remotePort}`;
    const pending: Pending = {
      socket,
      openedMs: now,
      graceTimer: setTimeout(() => {
        this.#noteRefused('login_grace', socket);
        this.#drop(pending, `Login grace time exceeded: no login within ${Math.round(this.#limits.graceMs / 1000)} s (--ssh-login-grace)`);
      }, this.#limits.graceMs),
      client: undefined,
      failedAuths: 0,
    };
    pending.graceTimer.unref();
    this.#pending.set(key, pending);
    socket.once('close', () => {
      if (this.#pending.get(key) === pending) this.#forget(key, pending);
    });
    server.injectSocket(socket);
  }

  /** A connection that authenticated is no longer counted nor timed. */
  #authenticated(pending: Pending): void {
    const key = `${pending.socket.remoteAddress}|${pending.socket.remotePort}`;
    if (this.#pending.get(key) === pending) this.#forget(key, pending);
  }

  #forget(key: string, pending: Pending): void {
    clearTimeout(pending.graceTimer);
    this.#pending.delete(key);
  }

  /** Closes a connection that did not log in: with a DISCONNECT saying why once ssh2 speaks on it, else at once. */
  #drop(pending: Pending, why?: string): void {
    const key = `${pending.socket.remoteAddress}|${pending.socket.remotePort}`;
    if (this.#pending.get(key) === pending) this.#forget(key, pending);
    if (pending.client && why !== undefined) {
      disconnectSaying(pending.client, pending.socket, disconnectReason.protocolError, why);
      // A client that does not read its side must not keep the socket.
      setTimeout(() => pending.socket.destroy(), 2_000).unref();
    } else {
      pending.socket.destroy();
    }
  }

  /** Counts a refused connection; one warning per burst (then at most one per 10 s), each one at debug. */
  #noteRefused(reason: string, socket: Socket): void {
    this.#refused.inc({ reason });
    this.#log.debug({ reason, remote: socket.remoteAddress, port: socket.remotePort }, 'ssh connection closed before login');
    this.#unlogged.set(reason, (this.#unlogged.get(reason) ?? 0) + 1);
    const now = this.#now();
    if (now - this.#lastDropLogMs < dropLogIntervalMs) return;
    this.#lastDropLogMs = now;
    const counts = Object.fromEntries(this.#unlogged);
    this.#unlogged.clear();
    this.#log.warn({ refused: counts, waiting: this.#pending.size, limits: { loginGraceMs: this.#limits.graceMs, maxStartups: this.#limits.maxStartups, maxAuthTries: this.#limits.maxAuthTries } }, 'ssh connections closed before login');
  }

  /** An admin key, or a key some App lists in spec.git.authorizedKeys. */
  async #findKey(data: Buffer): Promise<Pusher | undefined> {
    const fingerprint = fingerprintOf(data);
    const admins = await this.#adminKeys.list();
    const admin = admins.find((k) => k.fingerprint === fingerprint);
    if (admin) return { fingerprint, admin: true, ...(admin.comment ? { comment: admin.comment } : {}) };
    // Which app the key may push to is checked against the App itself when it pushes.
    if ((this.#keyUses.get(fingerprint) ?? 0) > 0) return { fingerprint, admin: false };
    return undefined;
  }

  #indexKeys(app: App, deleted: boolean): void {
    const name = `${app.metadata.namespace ?? defaultNamespace}/${app.metadata.name}`;
    for (const fingerprint of this.#appKeys.get(name) ?? []) {
      const uses = (this.#keyUses.get(fingerprint) ?? 1) - 1;
      if (uses > 0) this.#keyUses.set(fingerprint, uses);
      else this.#keyUses.delete(fingerprint);
    }
    this.#appKeys.delete(name);
    if (deleted) return;
    const fingerprints = new Set<string>();
    for (const line of app.spec.git.authorizedKeys) {
      const parsed = parsePublicKeyLine(line);
      if (parsed.ok) fingerprints.add(parsed.key.fingerprint);
    }
    this.#appKeys.set(name, [...fingerprints]);
    for (const fingerprint of fingerprints) this.#keyUses.set(fingerprint, (this.#keyUses.get(fingerprint) ?? 0) + 1);
  }

  #appAllows(app: App, fingerprint: string): boolean {
    return app.spec.git.authorizedKeys.some((line) => {
      const parsed = parsePublicKeyLine(line);
      return parsed.ok && parsed.key.fingerprint === fingerprint;
    });
  }

  async #exec(channel: GitChannel, command: string, pusher: Pusher | undefined, reposDir: string): Promise<number> {
    const parsed = parseGitCommand(command);
    if (!parsed.ok) {
      channel.stderr.write(`error [${parsed.error.code}]: ${parsed.error.message}\n`);
      return 1;
    }
    if (!pusher) {
      channel.stderr.write('error: not authenticated\n');
      return 1;
    }
    const name = parsed.app;
    const existing = await this.#options.store.find('App', name);
    if (existing && !pusher.admin && !this.#appAllows(existing, pusher.fingerprint)) {
      this.#pushes.inc({ app: name, result: 'refused' });
      const denied = gitdErrors.accessDenied({ fingerprint: pusher.fingerprint, app: name });
      channel.stderr.write(`error [${denied.code}]: ${denied.message}\n`);
      return 1;
    }
    if (!existing && !pusher.admin) {
      this.#pushes.inc({ app: name, result: 'refused' });
      const missing = gitdErrors.noSuchApp({ app: name });
      channel.stderr.write(`error [${missing.code}]: ${missing.message}\n`);
      return 1;
    }
    const repo = AppRepository.open(reposDir, name, join(this.#options.stateDir, 'incoming'));
    const log = this.#log.child({ app: name });
    const started = performance.now();
    let outcome = 'ok';
    let createdHere = false;
    let emptied = false;
    const serving = serveReceivePack(channel, {
      app: name,
      repo,
      log,
      maxPackBytes: this.#options.maxPackBytes ?? 200 * 1024 * 1024,
      packLimits: {
        maxObjectBytes: this.#options.maxObjectBytes ?? 100 * 1024 * 1024,
        maxPushBytes: this.#options.maxPushBytes ?? 2048 * 1024 * 1024,
        maxObjects: this.#options.maxObjectsPerPush ?? 100_000,
        maxDeltaDepth: this.#options.maxDeltaDepth ?? 50,
      },
      maxRefsPerPush: this.#options.maxRefsPerPush ?? 1000,
      ...(this.#options.keepaliveMs === undefined ? {} : { keepaliveMs: this.#options.keepaliveMs }),
      // A repository left with no ref (a first push that failed) goes, in the same hold of the lock: no other push is using it.
      withRepoLock: (work) =>
        this.#withRepoLock(name, async () => {
          try {
            return await work();
          } finally {
            emptied = await repo.removeIfEmpty().catch((error: Error) => {
              log.warn({ err: error }, 'cannot remove an empty repository');
              return false;
            });
          }
        }),
      resolveApp: async () => {
        const found = await this.#options.store.find('App', name);
        if (found) return found;
        try {
          const created = await this.#options.store.create({ apiVersion, kind: 'App', metadata: { name, namespace: defaultNamespace }, spec: {} });
          createdHere = true;
          return created;
        } catch (error) {
          if (isDormantError(error, 'STORE_ALREADY_EXISTS')) return this.#options.store.get('App', name);
          throw error;
        }
      },
      deployedCommit: (app) => this.#deployedCommit(app),
      adoptDeployBranch: (app, branch) => this.#adoptDeployBranch(app, branch),
      deploy: async (request) => {
        try {
          return await this.#options.pipeline.deploy({ ...request, repo, by: pusherName(pusher) });
        } catch (error) {
          outcome = 'rejected';
          throw error;
        }
      },
    });
    const cleanUp = async () => {
      if (createdHere && (outcome !== 'ok' || emptied)) {
        // An app made by a push that failed is not left behind half-made.
        await this.#forgetApp(name).catch((error: Error) => log.warn({ err: error }, 'cannot remove the app made by a failed push'));
      }
    };
    const code = await serving.catch(async (error: unknown) => {
      outcome = 'error';
      await cleanUp();
      throw error;
    });
    if (code !== 0) outcome = 'error';
    await cleanUp();
    this.#pushes.inc({ app: name, result: outcome });
    log.info({ fingerprint: pusher.fingerprint, code, outcome, ms: Math.round(performance.now() - started) }, 'push served');
    return code;
  }

  /** The commit of the Revision the App serves; undefined before its first deploy. */
  async #deployedCommit(app: App): Promise<string | undefined> {
    const ready = app.status?.readyRevision;
    if (ready === undefined) return undefined;
    return (await this.#options.store.find('Revision', ready, app.metadata.namespace))?.spec.commit;
  }

  /** Sets spec.git.branch, retrying when another writer changed the App in between. */
  async #adoptDeployBranch(app: App, branch: string): Promise<void> {
    const { store } = this.#options;
    await updateWithRetry(async () => {
      const current = await store.get('App', app.metadata.name, app.metadata.namespace);
      await store.update({ ...current, spec: { ...current.spec, git: { ...current.spec.git, branch } } });
    });
  }

  async #forgetApp(name: string): Promise<void> {
    const { store } = this.#options;
    for (const revision of await store.list('Revision', { namespace: defaultNamespace, labelSelector: { 'dormant.dev/app': name } })) {
      await store.delete('Revision', revision.metadata.name, revision.metadata.namespace);
    }
    await store.delete('App', name);
    await rm(join(this.#options.stateDir, 'releases', name), { recursive: true, force: true });
  }

  /**
   * A config change or rollback of an app, as a new release of an earlier build; one at a
   * time with the app's pushes. A rollback brings back its release's config as the App's,
   * once it serves.
   */
  async release(name: string, ask: ReleaseAsk, progress: (line: string) => void): Promise<Deployed> {
    return this.#withRepoLock(name, async () => {
      const { store } = this.#options;
      // The App's config is changed here, under the app's lock, so that a change and a rollback never undo each other half-way.
      const setConfig = (change: (env: Record<string, string>) => Record<string, string>) =>
        updateWithRetry(async () => {
          const current = await store.get('App', name);
          return store.update({ ...current, spec: { ...current.spec, run: { ...current.spec.run, env: change({ ...current.spec.run.env }) } } });
        });
      let app = await store.get('App', name);
      if (ask.kind === 'config') app = await setConfig((env) => ({ ...Object.fromEntries(Object.entries(env).filter(([key]) => !ask.unset.includes(key))), ...ask.set }));
      const revisions = await store.list('Revision', { namespace: app.metadata.namespace ?? defaultNamespace, labelSelector: { 'dormant.dev/app': name } });
      const plan = planRelease(app, revisions, ask);
      // A rollback brings back its release's config as the App's: written first (the next release, or a push, takes it even if Dormant stops half-way), put back if the release fails.
      const before = app.spec.run.env;
      const appEnv = plan.appEnv;
      if (appEnv) app = await setConfig(() => ({ ...appEnv }));
      let released: Deployed;
      try {
        released = await this.#options.pipeline.release({ app, plan, progress });
      } catch (error) {
        // Put back only if nobody changed it meanwhile (config set --no-restart, dormant apply): theirs wins.
        if (appEnv) await setConfig((env) => (sameEnv(env, appEnv) ? { ...before } : env)).catch((restore: Error) => this.#log.error({ app: name, err: restore }, 'cannot put back the config a failed rollback replaced'));
        throw error;
      }
      if (appEnv) progress(`-----> The config of ${plan.from.metadata.name} is the app's again`);
      this.#log.info({ app: name, revision: released.revision.metadata.name, change: plan.change.description, by: plan.change.by }, 'released');
      return released;
    });
  }

  /** A one-off process in the app's serving release (`dormant run`). */
  startOneOff(name: string, argv: readonly string[], terminal?: TerminalSize): Promise<OneOff> {
    return this.#options.pipeline.startOneOff(name, argv, terminal);
  }

  async #withRepoLock<T>(app: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#repoLocks.get(app) ?? Promise.resolve();
    const run = previous.then(work, work);
    const tail = run.catch(() => {});
    this.#repoLocks.set(app, tail);
    try {
      return await run;
    } finally {
      if (this.#repoLocks.get(app) === tail) this.#repoLocks.delete(app);
    }
  }

  /** Stops accepting, lets pushes in flight finish (up to closeGraceMs), then ends every connection. */
  async close(): Promise<void> {
    this.#apps?.stop();
    const listener = this.#listener;
    if (!listener) return;
    const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
    // Connections still logging in have nothing in flight.
    for (const pending of [...this.#pending.values()]) this.#drop(pending);
    if (this.#inFlight.size > 0) {
      this.#log.info({ pushes: this.#inFlight.size }, 'waiting for pushes in flight');
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#options.closeGraceMs ?? 30_000);
      });
      await Promise.race([Promise.allSettled([...this.#inFlight]), grace]);
      clearTimeout(timer);
    }
    for (const client of this.#clients) client.end();
    await closed;
  }
}
