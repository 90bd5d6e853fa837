/**
 * The server side of `git push` on one channel: advertise refs, read the commands and the
 * pack, admit the pack, run the deploy pipeline for the deploy branch, move refs by
 * compare-and-swap, and report per ref. Protocol v0 (a v2 client falls back to it).
 */
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { App } from '../crds/index.js';
import {
  parseUpdateRequest,
  PktLineError,
  type RefResult,
  type RefUpdate,
  readPktSection,
  sideBand,
  writeRefAdvertisement,
  writeReportStatus,
  zeroOid,
} from './pkt-line.js';
import { gitdErrors } from './errors.js';
import { type Deployed, PushRejected } from './push-pipeline.js';
import { type DormantError, isDormantError } from '../errors/index.js';
import type { PackLimits } from './pack-scan.js';
import { refLimitError } from './push-limits.js';
import { type AdmittedPack, type AppRepository, isValidRefName, PackRejected } from './repository.js';
import { deployBranchOf, type ForcedKind, forcedLine, judgeRefUpdate, questionsFor } from './ref-rules.js';

export const capabilities = ['report-status', 'side-band-64k', 'ofs-delta', 'atomic', 'quiet', 'delete-refs', 'no-thin', 'agent=dormant/0.1'];

/** An SSH exec channel as gitd uses it. */
export interface GitChannel extends Duplex {
  readonly stderr: { write(data: string | Buffer): unknown };
}

export interface ReceivePackOptions {
  readonly app: string;
  readonly repo: AppRepository;
  /** The App, created if this push may create it; undefined: pushes to it are refused. */
  readonly resolveApp: () => Promise<App>;
  readonly deploy: (request: { app: App; commit: string; branch: string; progress: (line: string) => void }) => Promise<Deployed>;
  /** The commit the App serves (its ready Revision's); undefined before its first deploy. */
  readonly deployedCommit: (app: App) => Promise<string | undefined>;
  /** Makes branch the App's spec.git.branch (after a first deploy of master). */
  readonly adoptDeployBranch: (app: App, branch: string) => Promise<void>;
  /** Serializes everything that reads and moves this app's refs. */
  readonly withRepoLock: <T>(work: () => Promise<T>) => Promise<T>;
  readonly maxPackBytes: number;
  /** What the pack's objects may inflate to: one object, and all of them. */
  readonly packLimits: PackLimits;
  readonly maxRefsPerPush: number;
  readonly log: Logger;
  readonly keepaliveMs?: number;
}

class ChannelReader {
  readonly #chunks: AsyncIterator<Buffer>;
  constructor(channel: Duplex) {
    // The default iterator destroys the stream at its end: that would close the SSH channel
    // before the report goes out, since the client ends its side right after the pack.
    this.#chunks = channel.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>;
  }
  async next(): Promise<Buffer | undefined> {
    const { value, done } = await this.#chunks.next();
    return done ? undefined : Buffer.isBuffer(value) ? value : Buffer.from(value as string);
  }
}

/** Serves one receive-pack; resolves with the exit status for the SSH channel. */
export async function serveReceivePack(channel: GitChannel, options: ReceivePackOptions): Promise<number> {
  const { repo, log } = options;
  channel.write(writeRefAdvertisement(await repo.refs(), capabilities));

  // The commands, up to their flush.
  const reader = new ChannelReader(channel);
  let buffered = Buffer.alloc(0);
  let section: ReturnType<typeof readPktSection>;
  try {
    for (;;) {
      section = readPktSection(buffered);
      if (section) break;
      if (buffered.length > 1024 * 1024) throw new PktLineError('the update commands are over 1 MiB');
      const chunk = await reader.next();
      if (!chunk) {
        // A client with nothing to push hangs up after the advertisement.
        if (buffered.length === 0) return 0;
        throw new PktLineError('the connection ended inside the update commands');
      }
      buffered = Buffer.concat([buffered, chunk]);
    }
  } catch (error) {
    if (!(error instanceof PktLineError)) throw error;
    return protocolError(channel, options, error);
  }
  if (section.lines.length === 0) return 0;
  let request: ReturnType<typeof parseUpdateRequest>;
  try {
    request = parseUpdateRequest(section.lines);
  } catch (error) {
    if (!(error instanceof PktLineError)) throw error;
    return protocolError(channel, options, error);
  }
  const useSideBand = request.capabilities.has('side-band-64k');
  // `quiet` (sent whenever the pusher's stderr is not a terminal) asks for no pack progress;
  // gitd has none, and the build and deploy output is what the push is for, so it always goes.
  const progress = (line: string) => {
    if (useSideBand) channel.write(sideBand(2, `${line}\n`));
    else channel.stderr.write(`${line}\n`);
  };
  // Errors go on the progress band too: band 3 would make git stop before it reads the report.
  const fatal = (error: DormantError) => progress(`error [${error.code}]: ${error.message}`);
  const report = (unpackError: string | undefined, results: readonly RefResult[]) => {
    if (!request.capabilities.has('report-status')) return;
    const status = writeReportStatus(unpackError, results);
    channel.write(useSideBand ? Buffer.concat([sideBand(1, status), Buffer.from('0000')]) : status);
  };

  // Too many refs, or a name too long: the whole push is refused; its pack is read and dropped so that git hears why.
  const refused = refLimitError(
    request.updates.map((u) => u.ref),
    options.maxRefsPerPush,
  );

  // The pack, into quarantine, bounded.
  const needsPack = request.updates.some((u) => u.newOid !== zeroOid);
  let packFile: string | undefined;
  if (needsPack) {
    packFile = refused ? undefined : await repo.quarantineFile();
    const file = packFile === undefined ? undefined : createWriteStream(packFile);
    let received = section.rest.length;
    let overLimit = received > options.maxPackBytes;
    if (!overLimit && section.rest.length > 0) file?.write(section.rest);
    for (let chunk = await reader.next(); chunk && !overLimit; chunk = await reader.next()) {
      received += chunk.length;
      if (received > options.maxPackBytes) overLimit = true;
      else if (file && !file.write(chunk)) await new Promise<void>((resolve) => file.once('drain', () => resolve()));
    }
    if (file) {
      file.end();
      await finished(file);
    }
    if (overLimit && !refused) {
      if (packFile) await rm(packFile, { force: true });
      const tooLarge = gitdErrors.packTooLarge({ limitMb: Math.round(options.maxPackBytes / 1024 / 1024) });
      fatal(tooLarge);
      report(`pack over ${Math.round(options.maxPackBytes / 1024 / 1024)} MiB`, request.updates.map((u) => ({ ref: u.ref, error: 'pack too large' })));
      return 1;
    }
  }
  if (refused) {
    fatal(refused);
    report(refused.code, request.updates.map((u) => ({ ref: u.ref, error: refused.code })));
    log.warn({ app: options.app, err: refused.message }, 'push refused: refs over the limits');
    return 1;
  }
  // A delete-only push carries no pack, and the client waits for the report without closing its side.

  return options.withRepoLock(async () => {
    let admitted: AdmittedPack | undefined;
    if (packFile) {
      // A client that goes away stops the indexing of its pack (a worker thread's CPU).
      const closed = new AbortController();
      const onClose = () => closed.abort();
      channel.once('close', onClose);
      try {
        admitted = await repo.admitPack(
          packFile,
          request.updates.filter((u) => u.newOid !== zeroOid).map((u) => u.newOid),
          options.packLimits,
          closed.signal,
        );
      } catch (error) {
        if (!(error instanceof PackRejected)) throw error;
        const failure = isDormantError(error.cause) ? error.cause : gitdErrors.badPack({ reason: error.message });
        fatal(failure);
        report(error.message.slice(0, 200), request.updates.map((u) => ({ ref: u.ref, error: 'unpacker error' })));
        log.warn({ app: options.app, code: failure.code, err: error.message }, 'push rejected: pack refused');
        return 1;
      } finally {
        channel.off('close', onClose);
      }
    }
    const results = await applyUpdates({
      updates: request.updates,
      atomic: request.capabilities.has('atomic'),
      receive: options,
      progress,
      keepaliveChannel: useSideBand ? channel : undefined,
    });
    // A pack whose every update failed leaves nothing behind.
    if (admitted && results.every((r) => r.error !== undefined)) await admitted.remove();
    report(undefined, results);
    return 0;
  });
}

function protocolError(channel: GitChannel, options: ReceivePackOptions, error: Error): number {
  const failure = gitdErrors.protocol({ reason: error.message });
  channel.stderr.write(`fatal [${failure.code}]: ${failure.message}\n`);
  options.log.warn({ app: options.app, err: error.message }, 'push rejected: not the git protocol');
  return failure.exitCode;
}

/** A ref that cannot coexist with ref: one of its folders is a ref, or it is a folder of refs. */
function refClash(ref: string, others: Iterable<string>): string | undefined {
  for (const other of others) {
    if (other !== ref && (other.startsWith(`${ref}/`) || ref.startsWith(`${other}/`))) return other;
  }
  return undefined;
}

interface ApplyUpdatesInput {
  readonly updates: readonly RefUpdate[];
  readonly atomic: boolean;
  readonly receive: ReceivePackOptions;
  readonly progress: (line: string) => void;
  readonly keepaliveChannel: Duplex | undefined;
}

async function applyUpdates({ updates, atomic, receive: options, progress, keepaliveChannel }: ApplyUpdatesInput): Promise<RefResult[]> {
  const { repo } = options;
  const errors = new Map<string, string>();
  let app: App;
  try {
    app = await options.resolveApp();
  } catch (error) {
    const message = (error as Error).message;
    progress(`-----> ${message}`);
    return updates.map((u) => ({ ref: u.ref, error: message.split('\n')[0] ?? message }));
  }
  // The refs as they will be if this push succeeds, for name clashes.
  const existing = new Set((await repo.refs()).map((r) => r.name));
  const after = new Set(existing);
  for (const u of updates) {
    if (u.newOid === zeroOid) after.delete(u.ref);
    else after.add(u.ref);
  }
  const deployedCommit = await options.deployedCommit(app);
  const deployBranch = deployBranchOf({ configured: app.spec.git.branch, deployed: deployedCommit !== undefined, existing, updates });
  const allowForcePush = app.spec.git.allowForcePush;
  const forced = new Map<string, ForcedKind>();
  let deployUpdate: RefUpdate | undefined;
  for (const update of updates) {
    const current = (await repo.resolve(update.ref)) ?? zeroOid;
    const ask = questionsFor(update, current, deployBranch.ref, deployedCommit);
    const isCommit = ask.isCommit ? await repo.isCommit(update.newOid) : undefined;
    const verdict = judgeRefUpdate({
      update,
      current,
      validName: isValidRefName(update.ref),
      clash: update.newOid === zeroOid ? undefined : refClash(update.ref, after),
      deployRef: deployBranch.ref,
      allowForcePush,
      deployedCommit,
      isCommit,
      containsCurrent: ask.containsCurrent && isCommit ? await repo.isAncestor(current, update.newOid) : undefined,
      containsDeployed: ask.containsDeployed && isCommit && deployedCommit !== undefined ? await repo.isAncestor(deployedCommit, update.newOid) : undefined,
    });
    if (!verdict.accepted) errors.set(update.ref, verdict.error.message);
    else {
      if (verdict.deploys) deployUpdate = update;
      if (verdict.forced) forced.set(update.ref, verdict.forced);
    }
  }
  const atomicFailure = () => {
    if (!atomic || errors.size === 0) return;
    for (const u of updates) if (!errors.has(u.ref)) errors.set(u.ref, 'atomic push failed');
  };
  atomicFailure();

  if (deployUpdate && errors.has(deployUpdate.ref)) deployUpdate = undefined;
  if (deployUpdate) {
    // Long builds: an empty band-1 packet now and then keeps proxies and the client waiting.
    const keepalive = keepaliveChannel ? setInterval(() => keepaliveChannel.write(Buffer.from('0005\x01')), options.keepaliveMs ?? 5000) : undefined;
    try {
      const branch = deployUpdate.ref.slice('refs/heads/'.length);
      if (deployBranch.adopted) progress(`-----> ${branch} becomes the deploy branch of ${options.app} (spec.git.branch: ${branch}): the app had no deploy yet and this push moves ${branch} alone`);
      await options.deploy({ app, commit: deployUpdate.newOid, branch, progress });
      if (deployBranch.adopted) {
        await options.adoptDeployBranch(app, branch).catch((error: unknown) => {
          options.log.error({ app: options.app, branch, err: error }, 'cannot record the deploy branch in the App');
          progress(`-----> could not record spec.git.branch: ${branch} (${(error as Error).message}); set it with dormant apply`);
        });
      }
    } catch (error) {
      if (!(error instanceof PushRejected)) options.log.error({ app: options.app, err: error }, 'push pipeline failed unexpectedly');
      errors.set(deployUpdate.ref, error instanceof PushRejected ? error.message : `internal error: ${(error as Error).message}`);
      atomicFailure();
    } finally {
      clearInterval(keepalive);
    }
  }

  const deployName = deployBranch.ref.slice('refs/heads/'.length);
  for (const update of updates) {
    if (!errors.has(update.ref) && update.newOid !== zeroOid && update.ref.startsWith('refs/heads/') && update.ref !== deployBranch.ref) {
      progress(`-----> ${update.ref.slice('refs/heads/'.length)} stored, not deployed: only ${deployName} deploys`);
    }
  }
  // Deletions first, so that "a/b" can go and "a" come in one push.
  const ordered = [...updates].sort((a, b) => Number(b.newOid === zeroOid) - Number(a.newOid === zeroOid));
  for (const update of ordered) {
    if (errors.has(update.ref)) continue;
    try {
      await repo.setRef(update.ref, update.newOid === zeroOid ? undefined : update.newOid);
      const kind = forced.get(update.ref);
      if (kind) {
        // Allowed by spec.git.allowForcePush, and said so: to the pusher and in the log.
        progress(forcedLine(update, kind, deployedCommit));
        options.log.warn({ app: options.app, ref: update.ref, old: update.oldOid, new: update.newOid, deployed: deployedCommit, forced: kind }, 'forced push accepted (spec.git.allowForcePush)');
      }
    } catch (error) {
      options.log.error({ app: options.app, ref: update.ref, err: error }, 'ref update failed');
      errors.set(update.ref, `failed to update ref: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  return updates.map((u) => ({ ref: u.ref, error: errors.get(u.ref) }));
}
