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
  /** Serializes everything that reads and moves this app's refs. */
  readonly withRepoLock: <T>(work: () => Promise<T>) => Promise<T>;
  readonly maxPackBytes: number;
  /** What the pack's objects may inflate to: one object, and all of them. */
  readonly packLimits: PackLimits;
  readonly maxRefsPerPush: number;
  readonly log: Logger;
  readonly keepaliveMs?: number;
}

/** The deploy branches of an app: spec.git.branch, and master too when that is main. */
export function isDeployRef(app: App, ref: string): boolean {
  const branch = app.spec.git.branch;
  return ref === `refs/heads/${branch}` || (branch === 'main' && ref === 'refs/heads/master');
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
      try {
        admitted = await repo.admitPack(
          packFile,
          request.updates.filter((u) => u.newOid !== zeroOid).map((u) => u.newOid),
          options.packLimits,
        );
      } catch (error) {
        if (!(error instanceof PackRejected)) throw error;
        const failure = isDormantError(error.cause) ? error.cause : gitdErrors.badPack({ reason: error.message });
        fatal(failure);
        report(error.message.slice(0, 200), request.updates.map((u) => ({ ref: u.ref, error: 'unpacker error' })));
        log.warn({ app: options.app, code: failure.code, err: error.message }, 'push rejected: pack refused');
        return 1;
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
  let app: App | undefined;
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
  let deployRef: string | undefined;
  for (const update of updates) {
    const current = (await repo.resolve(update.ref)) ?? zeroOid;
    const deploys = isDeployRef(app, update.ref) && update.newOid !== zeroOid;
    const clash = update.newOid === zeroOid ? undefined : refClash(update.ref, after);
    const refusal = !isValidRefName(update.ref)
      ? gitdErrors.badRefName({})
      : current !== update.oldOid
        ? gitdErrors.staleRef({ current })
        : clash
          ? gitdErrors.refConflict({ other: clash })
          : update.newOid === zeroOid && isDeployRef(app, update.ref)
            ? gitdErrors.deleteDeployBranch({})
            : deploys && deployRef !== undefined
              ? gitdErrors.twoDeployBranches({ other: deployRef })
              : update.ref.startsWith('refs/heads/') && update.newOid !== zeroOid && !(await repo.isCommit(update.newOid))
                ? gitdErrors.notACommit({})
                : deploys && update.oldOid !== zeroOid && !app.spec.git.allowForcePush && !(await repo.isAncestor(update.oldOid, update.newOid))
                  ? gitdErrors.nonFastForward({ current })
                  : undefined;
    if (refusal) errors.set(update.ref, refusal.message);
    else if (deploys) deployRef = update.ref;
  }
  const atomicFailure = () => {
    if (!atomic || errors.size === 0) return;
    for (const u of updates) if (!errors.has(u.ref)) errors.set(u.ref, 'atomic push failed');
  };
  atomicFailure();

  const deployUpdate = updates.find((u) => !errors.has(u.ref) && u.newOid !== zeroOid && app && isDeployRef(app, u.ref));
  if (deployUpdate && app) {
    // Long builds: an empty band-1 packet now and then keeps proxies and the client waiting.
    const keepalive = keepaliveChannel ? setInterval(() => keepaliveChannel.write(Buffer.from('0005\x01')), options.keepaliveMs ?? 5000) : undefined;
    try {
      const branch = deployUpdate.ref.slice('refs/heads/'.length);
      await options.deploy({ app, commit: deployUpdate.newOid, branch, progress });
    } catch (error) {
      if (!(error instanceof PushRejected)) options.log.error({ app: options.app, err: error }, 'push pipeline failed unexpectedly');
      errors.set(deployUpdate.ref, error instanceof PushRejected ? error.message : `internal error: ${(error as Error).message}`);
      atomicFailure();
    } finally {
      clearInterval(keepalive);
    }
  }

  for (const update of updates) {
    if (!errors.has(update.ref) && update.newOid !== zeroOid && update.ref.startsWith('refs/heads/') && !isDeployRef(app, update.ref)) {
      progress(`-----> ${update.ref.slice('refs/heads/'.length)} stored, not deployed: only ${app.spec.git.branch} deploys`);
    }
  }
  // Deletions first, so that "a/b" can go and "a" come in one push.
  const ordered = [...updates].sort((a, b) => Number(b.newOid === zeroOid) - Number(a.newOid === zeroOid));
  for (const update of ordered) {
    if (errors.has(update.ref)) continue;
    try {
      await repo.setRef(update.ref, update.newOid === zeroOid ? undefined : update.newOid);
    } catch (error) {
      options.log.error({ app: options.app, ref: update.ref, err: error }, 'ref update failed');
      errors.set(update.ref, `failed to update ref: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  return updates.map((u) => ({ ref: u.ref, error: errors.get(u.ref) }));
}
